// Every page of the dashboard, in the navigation's order (the first is the home page). The
// router and the navigation are both built from this list.
import type { Page } from "../router";
import { Account } from "./Account";
import { Collectors } from "./Collectors";
import { InstanceDetail } from "./InstanceDetail";
import { Instances } from "./Instances";
import { Overview } from "./Overview";
import { Secrets } from "./Secrets";
import { Users } from "./Users";

export const PAGES: readonly Page[] = [
  { path: "/", title: "Overview", role: "viewer", nav: true, component: Overview },
  { path: "/instances/:id", title: "Managed Instance", role: "viewer", nav: false, component: InstanceDetail },
  { path: "/instances", title: "Managed Instances", role: "viewer", nav: true, component: Instances },
  { path: "/collectors", title: "Active Collectors", role: "viewer", nav: true, component: Collectors },
  { path: "/secrets", title: "Registration Secrets", role: "admin", nav: true, component: Secrets },
  { path: "/users", title: "Users", role: "admin", nav: true, component: Users },
  { path: "/account", title: "Your account", role: "viewer", nav: false, component: Account },
];
