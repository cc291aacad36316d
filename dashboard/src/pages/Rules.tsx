import { useEffect, useState } from "react";
import { api, get, may } from "../api/client";
import type { Rule, RuleList } from "../api/alerting";
import type { Collector, Instance } from "../api/types";
import { ActionButton, AlertBadge, ErrorNote, Loading } from "../components/ui";
import { useHash } from "../hooks/useHash";
import { useLive } from "../hooks/useLive";
import { duration } from "../lib/format";
import { formFromQuery, hashQuery } from "./chartAlert";
import { RuleEditor } from "./RuleEditor";
import { EMPTY_RULE, formOfRule, type RuleForm } from "./ruleForm";
import { conditionText, scopeText } from "./ruleText";

type Editing = { initial: RuleForm; rule?: Rule; key: string };

export function Rules() {
  const { data, error, reload } = useLive(() => get<RuleList>("/alert-rules"), ["alert_rule", "alert"]);
  const instances = useLive(() => get<Instance[]>("/managed-instances"), ["managed_instance"]).data ?? [];
  const collectors = useLive(() => get<Collector[]>("/collectors"), ["collector"]).data ?? [];
  const [form, setForm] = useState<Editing | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const query = hashQuery(useHash());
  const highlighted = new URLSearchParams(query).get("rule");
  // "Alert on this" (an instance chart) arrives with the new rule in the query.
  useEffect(() => {
    const prefill = formFromQuery(query);
    if (prefill && may("createRule")) setForm({ initial: prefill, key: query });
  }, [query]);
  const nameOf = (id: string) => instances.find((i) => i.id === id)?.name ?? collectors.find((c) => c.id === id)?.name ?? id;
  const done = (saved: boolean) => {
    setForm(null);
    if (query) window.location.hash = "#/rules";
    if (saved) reload();
  };
  const rules = data?.rules ?? null;
  return (
    <>
      <div className="title">
        <h1>Alert Rules</h1>
        {may("createRule") && !form && <button onClick={() => setForm({ initial: EMPTY_RULE, key: "new" })}>New rule</button>}
      </div>
      {form && (
        <RuleEditor
          key={form.key}
          initial={form.initial}
          editing={form.rule}
          instances={instances}
          collectors={collectors}
          onDone={done}
        />
      )}
      <ErrorNote text={error ?? note} />
      {rules === null ? <Loading what="rules" /> : rules.length === 0 ? (
        <p className="empty">No alert rules yet.{may("createRule") ? " Add one, or use “Alert on this” on an instance's chart." : ""}</p>
      ) : (
        <div className="scroll">
          <table className="stack">
            <thead>
              <tr><th>Name</th><th>Severity</th><th>Condition</th><th>Enabled</th><th>Firing</th><th><span className="sr">Actions</span></th></tr>
            </thead>
            <tbody>
              {rules.map((r) => (
                <tr key={r.id} data-rule={r.id} className={r.id === highlighted ? "highlight" : undefined}>
                  <td data-label="Name">
                    {r.name}
                    {r.builtin && <div className="muted small">built-in ({r.builtin})</div>}
                  </td>
                  <td data-label="Severity"><AlertBadge value={r.severity} /></td>
                  <td data-label="Condition">
                    <code className="condition">{conditionText(r.condition)}</code>
                    <div className="muted small">for {duration(r.for_secs)} · {scopeText(r.scope, nameOf)}</div>
                  </td>
                  <td data-label="Enabled"><span className={`badge ${r.enabled ? "active" : "inactive"}`}>{r.enabled ? "enabled" : "disabled"}</span></td>
                  <td data-label="Firing">{r.firing > 0 ? <a href="#/alerts" className="firing-count">{r.firing} firing</a> : <span className="muted">0</span>}</td>
                  <td className="actions">
                    {may("editRule") && (
                      <button className="secondary" onClick={() => setForm({ initial: formOfRule(r), rule: r, key: `${r.id}:${r.version}` })}>
                        Edit
                      </button>
                    )}
                    {may(r.enabled ? "disableRule" : "enableRule") && (
                      <ActionButton
                        label={r.enabled ? "Disable" : "Enable"}
                        className="secondary"
                        run={() => api("POST", `/alert-rules/${r.id}/${r.enabled ? "disable" : "enable"}`).then(reload)}
                        onError={setNote}
                      />
                    )}
                    {/* A built-in rule can be disabled, not deleted (the server answers 409). */}
                    {!r.builtin && may("deleteRule") && (
                      <ActionButton
                        label="Delete"
                        className="danger"
                        confirm={`Delete the rule ${r.name}?`}
                        run={() => api("DELETE", `/alert-rules/${r.id}`).then(reload)}
                        onError={setNote}
                      />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
