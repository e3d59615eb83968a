const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** FPM's log timestamp: `22-Nov-2026 01:02:03`, local time. */
export function fpmTimestamp(date = new Date()): string {
  return (
    `${pad(date.getDate())}-${MONTHS[date.getMonth()]}-${date.getFullYear()} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}
