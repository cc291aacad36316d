// How a fixed time range reads in the range picker. Pure, tested in rangeText.test.ts.

const pad = (n: number) => String(n).padStart(2, "0");
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function day(d: Date): string {
  return `${MONTHS[d.getMonth()]} ${d.getDate()}`;
}
function time(d: Date): string {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A window in unix seconds, in the browser's time zone: "Dec 3, 14:05 – 14:35", or with both days when they differ. */
export function rangeText(from: number, to: number): string {
  const a = new Date(from * 1000);
  const b = new Date(to * 1000);
  const sameDay = a.toDateString() === b.toDateString();
  return `${day(a)}, ${time(a)} – ${sameDay ? "" : `${day(b)}, `}${time(b)}`;
}
