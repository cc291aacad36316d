// Sorting a table by any column, the sort kept in the page's URL (`<prefix>sort=key` and
// `<prefix>dir=asc|desc`), so a link shows the same order. Pure, tested in tableSort.test.ts.

export type Dir = "asc" | "desc";
export interface Sort { key: string; dir: Dir }

/** The sort a query asks for among `keys`, else `fallback`. */
export function sortOf(q: URLSearchParams, keys: readonly string[], fallback: Sort, prefix = ""): Sort {
  const key = q.get(`${prefix}sort`);
  if (!key || !keys.includes(key)) return fallback;
  return { key, dir: q.get(`${prefix}dir`) === "asc" ? "asc" : "desc" };
}

/** `q` with the sort set to `s`. */
export function withSort(q: URLSearchParams, s: Sort, prefix = ""): URLSearchParams {
  const next = new URLSearchParams(q);
  next.set(`${prefix}sort`, s.key);
  next.set(`${prefix}dir`, s.dir);
  return next;
}

/** A click on `key`'s header: the other direction when it is the sort, else `first` (numbers: largest first). */
export function toggle(s: Sort, key: string, first: Dir = "desc"): Sort {
  return s.key === key ? { key, dir: s.dir === "asc" ? "desc" : "asc" } : { key, dir: first };
}

/** Text in the order a person expects (`t2` before `t10`); one collator for every comparison. */
const byText = new Intl.Collator(undefined, { numeric: true }).compare;

/** `rows` sorted by `value` of the sort's key; missing values (null) last in either direction, ties keep their order. */
export function sortRows<T>(rows: readonly T[], s: Sort, value: (row: T, key: string) => number | string | null): T[] {
  const sign = s.dir === "asc" ? 1 : -1;
  return rows
    .map((r, n) => ({ r, n, v: value(r, s.key) }))
    .sort((a, b) => {
      if (a.v === null || b.v === null) return a.v === b.v ? a.n - b.n : a.v === null ? 1 : -1;
      const c = typeof a.v === "number" && typeof b.v === "number" ? a.v - b.v : byText(String(a.v), String(b.v));
      return c !== 0 ? sign * c : a.n - b.n;
    })
    .map((x) => x.r);
}
