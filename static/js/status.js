// The status names of executions, steps and dispatches (DESIGN.md section 9:
// the dashboard reads them from one module; common/status.c is the server's
// one table). Which of them are final decides what a view stops watching.
export const EXEC_STATUSES = ['running', 'waiting', 'awaiting_approval',
  'completed', 'failed', 'cancelled', 'rejected', 'expired'];
export const EXEC_ENDED = new Set(['completed', 'failed', 'cancelled',
  'rejected', 'expired']);
export const STEP_DONE = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);
export const DISPATCH_DONE = new Set(['succeeded', 'failed', 'cancelled',
  'timed_out', 'lost', 'error', 'refused', 'skipped']);
