import { describe, expect, it } from "vitest";
import openapi from "./api/openapi.json";
import type { Role } from "./api/types";
import { PAGES } from "./pages";
import { isCurrent, match, navigation, route } from "./router";

const ID = "0190a4b2-7c1e-7d3a-9f00-123456789abc";
const titles = (role: Role) => navigation(PAGES, role).map((p) => p.title);
const shown = (path: string, role: Role) => route(PAGES, path, role);

describe("navigation", () => {
  it("shows viewers and editors the monitoring and alerting pages, admins also notifications, secrets and users", () => {
    const monitoring = ["Overview", "Managed Instances", "Active Collectors", "Alerts", "Alert Rules", "Silences"];
    expect(titles("viewer")).toEqual(monitoring);
    expect(titles("editor")).toEqual(monitoring);
    expect(titles("admin")).toEqual([...monitoring, "Notifications", "Registration Secrets", "Users", "Audit Trail"]);
  });

  it("marks the link of the current path, or of the path above it", () => {
    const page = (title: string) => PAGES.find((p) => p.title === title)!;
    expect(isCurrent(page("Overview"), "/")).toBe(true);
    expect(isCurrent(page("Overview"), "")).toBe(true);
    expect(isCurrent(page("Overview"), "/instances")).toBe(false);
    expect(isCurrent(page("Managed Instances"), `/instances/${ID}`)).toBe(true);
    expect(isCurrent(page("Active Collectors"), "/instances")).toBe(false);
    expect(isCurrent(page("Alerts"), `/alerts/${ID}`)).toBe(true);
    expect(isCurrent(page("Alert Rules"), "/rules?new=1&metric=m")).toBe(true);
    expect(isCurrent(page("Overview"), "/?sort=tps&dir=desc")).toBe(true);
    expect(isCurrent(page("Active Collectors"), `/collectors/${ID}`)).toBe(true);
  });
});

describe("route", () => {
  it("shows each page at its path", () => {
    expect(shown("/", "viewer").page.title).toBe("Overview");
    expect(shown("/instances", "viewer").page.title).toBe("Managed Instances");
    expect(shown("/collectors", "viewer").page.title).toBe("Active Collectors");
    expect(shown("/account", "viewer").page.title).toBe("Your account");
    expect(shown("/secrets", "admin").page.title).toBe("Registration Secrets");
    expect(shown("/users", "admin").page.title).toBe("Users");
    expect(shown("/alerts", "viewer").page.title).toBe("Alerts");
    expect(shown("/rules", "viewer").page.title).toBe("Alert Rules");
    expect(shown("/silences", "viewer").page.title).toBe("Silences");
    expect(shown("/notifications", "admin").page.title).toBe("Notifications");
  });

  it("gives an alert's page its id, and takes the rules page with a prefilled rule in the query", () => {
    expect(shown(`/alerts/${ID}`, "viewer")).toMatchObject({ page: { title: "Alert" }, params: { id: ID } });
    expect(shown("/rules?new=1&metric=pg_activity_connections", "editor").page.title).toBe("Alert Rules");
  });

  it("gives an instance's page its id, with or without a query of its own", () => {
    expect(shown(`/instances/${ID}`, "viewer")).toMatchObject({ page: { title: "Managed Instance" }, params: { id: ID } });
    expect(shown(`/instances/${ID}?tab=history`, "viewer")).toMatchObject({ page: { title: "Managed Instance" }, params: { id: ID } });
  });

  it("gives a collector's page its id, and keeps the audit trail for admins", () => {
    expect(shown(`/collectors/${ID}`, "viewer")).toMatchObject({ page: { title: "Collector" }, params: { id: ID } });
    expect(shown("/audit?actor=bob", "admin").page.title).toBe("Audit Trail");
    expect(shown("/audit", "editor").page.title).toBe("Overview");
  });

  it("shows the list for a path below it that is no instance id", () => {
    expect(shown("/instances/not-an-id", "viewer").page.title).toBe("Managed Instances");
  });

  it("shows the overview for admin pages to anyone below admin", () => {
    for (const role of ["viewer", "editor"] as const) {
      expect(shown("/secrets", role).page.title).toBe("Overview");
      expect(shown("/users", role).page.title).toBe("Overview");
      expect(shown("/notifications", role).page.title).toBe("Overview");
    }
  });

  it("shows the overview for a path no page takes", () => {
    expect(shown("/nowhere", "admin")).toMatchObject({ page: { title: "Overview" }, params: {} });
    expect(shown("", "viewer").page.title).toBe("Overview");
  });
});

describe("match", () => {
  it("takes an id only where the pattern has one, and whole", () => {
    expect(match("/instances/:id", `/instances/${ID}`)).toEqual({ id: ID });
    expect(match("/instances/:id", `/instances/${ID}/more`)).toBeNull();
    expect(match("/instances/:id", "/instances")).toBeNull();
    expect(match("/", "/instances")).toBeNull();
    expect(match("/", "/?status=error")).toEqual({});
  });
});

describe("the page list", () => {
  // The API route whose data each page shows: the page needs the role that route needs.
  const READS: Record<string, string> = {
    "/": "GET /fleet",
    "/instances/:id": "GET /managed-instances/{id}",
    "/instances": "GET /managed-instances",
    "/collectors/:id": "GET /collectors/{id}",
    "/collectors": "GET /collectors",
    "/audit": "GET /audit",
    "/secrets": "GET /registration-secrets",
    "/users": "GET /users",
    "/account": "POST /auth/change-password",
    "/alerts/:id": "GET /alerts/{id}",
    "/alerts": "GET /alerts",
    "/rules": "GET /alert-rules",
    "/silences": "GET /silences",
    "/notifications": "GET /notification-channels",
  };

  it("asks of each page the role the server asks of what it shows", () => {
    const paths = openapi.paths as Record<string, Record<string, { "x-pga-access"?: string }>>;
    for (const page of PAGES) {
      const [method, path] = READS[page.path].split(" ");
      const op = paths[`/api/v1${path}`]?.[method.toLowerCase()];
      expect(op, `${READS[page.path]} in openapi.json`).toBeDefined();
      expect(page.role, page.path).toBe(op?.["x-pga-access"]);
    }
  });
});
