// Every page of the dashboard, in the navigation's order (the first is the home page). The
// router and the navigation are both built from this list.
import type { Page } from "../router";
import { Account } from "./Account";
import { AlertDetail } from "./AlertDetail";
import { Alerts } from "./Alerts";
import { Audit } from "./Audit";
import { CollectorDetail } from "./CollectorDetail";
import { Collectors } from "./Collectors";
import { InstanceDetail } from "./InstanceDetail";
import { Instances } from "./Instances";
import { Notifications } from "./Notifications";
import { Overview } from "./Overview";
import { Rules } from "./Rules";
import { Secrets } from "./Secrets";
import { Silences } from "./Silences";
import { Users } from "./Users";

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
