// strftime(3) in the C locale, as glibc formats it: FPM's access log %t, its
// error log's timestamps and its status pages' start times all come from it.

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];
const DAYS_ABBR = DAYS.map((day) => day.slice(0, 3));
const MONTHS_ABBR = MONTHS.map((month) => month.slice(0, 3));
const DAY_MS = 86_400_000;

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));
const space2 = (n: number) => (n < 10 ? ` ${n}` : String(n));
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));
const hour12 = (d: Date) => d.getHours() % 12 || 12;
/** 0-based day of the year, local time. */
const yearDay = (d: Date) =>
  (Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(d.getFullYear(), 0, 1)) / DAY_MS;

/** ISO 8601 week-numbering year and week (%G, %V). */
function isoWeek(d: Date): { year: number; week: number } {
  const thursday = Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) + (3 - ((d.getDay() + 6) % 7)) * DAY_MS;
  const year = new Date(thursday).getUTCFullYear();
  return { year, week: Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * DAY_MS)) + 1 };
}

function utcOffset(d: Date): string {
  const east = -Math.round(d.getTimezoneOffset());
  const abs = Math.abs(east);
  return `${east < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`;
}

/** The zone's abbreviation as ICU names it (glibc may differ, e.g. "GMT+5:30" for "IST"). */
function zoneName(d: Date): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d);
  return parts.find((p) => p.type === 'timeZoneName')?.value ?? '';
}

type Conversion = (d: Date) => string;

/** glibc's conversions in the C locale. The composite ones are expanded at compile time. */
const CONVERSIONS: Record<string, Conversion | string> = {
  a: (d) => DAYS_ABBR[d.getDay()]!,
  A: (d) => DAYS[d.getDay()]!,
  b: (d) => MONTHS_ABBR[d.getMonth()]!,
  h: (d) => MONTHS_ABBR[d.getMonth()]!,
  B: (d) => MONTHS[d.getMonth()]!,
  C: (d) => pad2(Math.floor(d.getFullYear() / 100)),
  d: (d) => pad2(d.getDate()),
  e: (d) => space2(d.getDate()),
  G: (d) => String(isoWeek(d).year),
  g: (d) => pad2(isoWeek(d).year % 100),
  H: (d) => pad2(d.getHours()),
  I: (d) => pad2(hour12(d)),
  j: (d) => pad3(yearDay(d) + 1),
  k: (d) => space2(d.getHours()),
  l: (d) => space2(hour12(d)),
  m: (d) => pad2(d.getMonth() + 1),
  M: (d) => pad2(d.getMinutes()),
  n: () => '\n',
  p: (d) => (d.getHours() < 12 ? 'AM' : 'PM'),
  P: (d) => (d.getHours() < 12 ? 'am' : 'pm'),
  s: (d) => String(Math.floor(d.getTime() / 1000)),
  S: (d) => pad2(d.getSeconds()),
  t: () => '\t',
  u: (d) => String(d.getDay() || 7),
  U: (d) => pad2(Math.floor((yearDay(d) + 7 - d.getDay()) / 7)),
  V: (d) => pad2(isoWeek(d).week),
  w: (d) => String(d.getDay()),
  W: (d) => pad2(Math.floor((yearDay(d) + 7 - ((d.getDay() + 6) % 7)) / 7)),
  y: (d) => pad2(d.getFullYear() % 100),
  Y: (d) => String(d.getFullYear()),
  z: utcOffset,
  Z: zoneName,
  '%': () => '%',
  c: '%a %b %e %H:%M:%S %Y',
  D: '%m/%d/%y',
  F: '%Y-%m-%d',
  r: '%I:%M:%S %p',
  R: '%H:%M',
  T: '%H:%M:%S',
  x: '%m/%d/%y',
  X: '%H:%M:%S',
};

/** Expands a strftime format into literals and conversions. Unknown conversions stay as written, as in glibc. */
function strftimeOps(format: string, ops: (string | Conversion)[]): void {
  let i = 0;
  while (i < format.length) {
    const percent = format.indexOf('%', i);
    if (percent === -1 || percent === format.length - 1) {
      ops.push(format.slice(i));
      return;
    }
    if (percent > i) ops.push(format.slice(i, percent));
    let j = percent + 1;
    if (format[j] === 'E' || format[j] === 'O') j++; // alternative representations: the same in the C locale
    const conversion = Object.hasOwn(CONVERSIONS, format[j] ?? '') ? CONVERSIONS[format[j]!] : undefined;
    if (typeof conversion === 'string') strftimeOps(conversion, ops);
    else if (conversion) ops.push(conversion);
    else ops.push(format.slice(percent, j + 1));
    i = j + 1;
  }
}

/** A strftime format as a renderer of dates, local time. */
export function strftime(format: string): (date: Date) => string {
  const ops: (string | Conversion)[] = [];
  strftimeOps(format, ops);
  return (date) => {
    let out = '';
    for (const op of ops) out += typeof op === 'string' ? op : op(date);
    return out;
  };
}

/** A strftime format as a renderer of epoch ms, cached per second: for a line per request. */
export function compileStrftime(format: string): (ms: number) => string {
  const render = strftime(format);
  let cachedSecond = NaN;
  let cached = '';
  return (ms) => {
    if (!Number.isFinite(ms)) return '-';
    const second = Math.floor(ms / 1000);
    if (second !== cachedSecond) {
      cached = render(new Date(second * 1000));
      cachedSecond = second;
    }
    return cached;
  };
}
