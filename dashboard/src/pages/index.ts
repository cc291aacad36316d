// Every page of the dashboard, in the navigation's order (the first is the home page). The
// router and the navigation are both built from this list. The overview is in the app's own
// script; every other page is a script of its own, loaded the first time it is shown (App.tsx's
// Suspense says "Loading…" meanwhile), so the home page does not wait for the charts' code.
import { lazy, type ComponentType } from "react";
import type { Page, PageProps } from "../router";
import { Overview } from "./Overview";

/**
 * A page loaded on first use: `load` imports its module, `name` is its component's export. A
 * failed load is tried once more a second later (a network blip); React keeps a second failure
 * for the page's life, and the page then says to reload (PageBoundary).
 */
function later<K extends string>(load: () => Promise<Record<K, ComponentType<PageProps>>>, name: K) {
  return lazy(() =>
    load()
      .catch(() => new Promise((r) => setTimeout(r, 1000)).then(load))
      .then((m) => ({ default: m[name] })));
}

const InstanceDetail = later(() => import("./InstanceDetail"), "InstanceDetail");
const Instances = later(() => import("./Instances"), "Instances");
const CollectorDetail = later(() => import("./CollectorDetail"), "CollectorDetail");
const Collectors = later(() => import("./Collectors"), "Collectors");
const AlertDetail = later(() => import("./AlertDetail"), "AlertDetail");
const Alerts = later(() => import("./Alerts"), "Alerts");
const Rules = later(() => import("./Rules"), "Rules");
const Silences = later(() => import("./Silences"), "Silences");
const Notifications = later(() => import("./Notifications"), "Notifications");
const Secrets = later(() => import("./Secrets"), "Secrets");
const Users = later(() => import("./Users"), "Users");
const Audit = later(() => import("./Audit"), "Audit");
const Account = later(() => import("./Account"), "Account");

export const PAGES: readonly Page[] = [
  { path: "/", title: "Overview", role: "viewer", nav: true, component: Overview },
  { path: "/instances/:id", title: "Managed Instance", role: "viewer", nav: false, component: InstanceDetail },
  { path: "/instances", title: "Managed Instances", role: "viewer", nav: true, component: Instances },
  { path: "/collectors/:id", title: "Collector", role: "viewer", nav: false, component: CollectorDetail },
  { path: "/collectors", title: "Active Collectors", role: "viewer", nav: true, component: Collectors },
  { path: "/alerts/:id", title: "Alert", role: "viewer", nav: false, component: AlertDetail },
  { path: "/alerts", title: "Alerts", role: "viewer", nav: true, component: Alerts },
  { path: "/rules", title: "Alert Rules", role: "viewer", nav: true, component: Rules },
  { path: "/silences", title: "Silences", role: "viewer", nav: true, component: Silences },
  { path: "/notifications", title: "Notifications", role: "admin", nav: true, component: Notifications },
  { path: "/secrets", title: "Registration Secrets", role: "admin", nav: true, component: Secrets },
  { path: "/users", title: "Users", role: "admin", nav: true, component: Users },
  { path: "/audit", title: "Audit Trail", role: "admin", nav: true, component: Audit },
  { path: "/account", title: "Your account", role: "viewer", nav: false, component: Account },
];
