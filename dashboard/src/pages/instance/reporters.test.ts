import { describe, expect, it } from "vitest";
import type { Collector } from "../../api/types";
import { reporters } from "./reporters";

const c = (name: string, instance_ids: string[], last_instance: string | null, last_seen: string | null = "2026-12-03T18:00:00Z") =>
  ({ id: name, name, instance_ids, last_instance, last_seen }) as Collector;

describe("the collectors of an instance", () => {
  it("lists the bound ones that were seen, whichever server they read last", () => {
    const got = reporters([
      c("two-servers", ["I", "J"], "other-pg"), // watches I and J; its last pass was J's
      c("never-seen", ["I"], null, null),
      c("elsewhere", ["J"], "other-pg"),
      c("main", ["I"], "local-pg"),
    ], { id: "I", name: "local-pg" });
    expect(got.map((x) => x.name)).toEqual(["main", "two-servers"]);
  });
});
