// The explorer's own bounds and intervals (units last), next to each other like src/limits.ts.

/** Rows the directory tree shows at most; past it the deepest expansions are cut off. */
export const TUI_TREE_ROWS_MAX = 20_000;
/** Matches `/` (find) collects at most; the list says when it stopped there. */
export const TUI_FIND_RESULTS_MAX = 1_000;
/** How often the cluster (nodes, and whether the master answers) is asked while the TUI runs. */
export const TUI_POLL_INTERVAL_MS = 2_000;
/** How often the dashboard, while shown, asks for the files' health (fsck walks the whole namespace). */
export const TUI_HEALTH_INTERVAL_MS = 10_000;
/** Samples of the transfer rates kept for the dashboard's chart (× the poll interval = its span). */
export const TUI_RATE_SAMPLES_MAX = 60;
/** The details pane asks stat only once the selection has rested this long (holding j stays cheap). */
export const TUI_DETAILS_DELAY_MS = 80;
/** Files `v` shows: up to this size, read whole into memory. */
export const TUI_PREVIEW_BYTES_MAX = 64 * 1024;
/** Progress of a get or put is redrawn at most this often. */
export const TUI_PROGRESS_INTERVAL_MS = 150;

function assert(condition: boolean, what: string): void {
  if (!condition) throw new Error(`tui constants: ${what}`);
}
assert(TUI_FIND_RESULTS_MAX <= TUI_TREE_ROWS_MAX, 'find results fit in a list as long as the tree');
assert(TUI_HEALTH_INTERVAL_MS >= TUI_POLL_INTERVAL_MS, 'fsck is asked no more often than the nodes');
assert(TUI_PROGRESS_INTERVAL_MS < TUI_POLL_INTERVAL_MS, 'progress redraws more often than the cluster is polled');
