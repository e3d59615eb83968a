// The control socket's protocol, shared by the master (master/control.ts) and
// the CLI (control/client.ts): one JSON line each way.

/** A request on the control socket: one JSON line. */
export interface ControlRequest {
  cmd: 'reload' | 'reopen-logs' | 'stop' | 'status' | 'identify';
  wait?: boolean;
}

/** The answer: one JSON line, then the master closes the connection. */
export interface ControlResponse {
  ok: boolean;
  /** The exit code the CLI should use. */
  code: number;
  messages: string[];
  data?: unknown;
}
