// The full-screen explorer (`dfs tui`, and `tui` inside the shell): its state (where the user is,
// what is selected, whether the master answers), its keys, and the cluster poll that feeds the
// dashboard and notices a lost master. It sees the cluster only through ClusterApi.

import type * as blessed from 'blessed';
import type { ClusterApi, Entry, Identity, ProgressListener } from '../client/api';
import { isDfsError } from '../wire/errors';
import { baseName, parentOf, ROOT } from '../paths';
import { reasonOf } from '../shell/errors';
import * as actions from './actions';
import { TUI_DETAILS_DELAY_MS, TUI_HEALTH_INTERVAL_MS, TUI_POLL_INTERVAL_MS, TUI_PROGRESS_INTERVAL_MS } from './constants';
import { DashboardView, RateHistory, type ClusterView } from './dashboard';
import { Dialogs, literal } from './dialogs';
import { detailsText, ExplorerView, type Pane } from './explorer';
import { DirectoryTree, fit, sortEntries, summarize, summaryText } from './model';
import { acquireTerminal } from './terminal';

export interface TuiOptions {
  api: ClusterApi;
  identity: Identity;
  /** HOST:PORT, for the status line. */
  master: string;
  /** The directory shown first (canonical); the root by default. */
  cwd?: string;
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
  /** Where local paths typed in get and put are relative to; the process's by default. */
  localCwd?: string;
}

/** Opens the explorer on the terminal and resolves once the user quits, the terminal restored. */
export async function runTui(options: TuiOptions): Promise<void> {
  const terminal = acquireTerminal(options.input, options.output, `dfs ${options.master}`);
  const app = new TuiApp(terminal.screen, options);
  try {
    await app.run();
  } finally {
    app.stop();
    terminal.release();
  }
}

type Key = blessed.Widgets.Events.IKeyEventArg;

const HELP = [
  '{bold}Explorer{/bold}',
  '  ↑ ↓  j k  PgUp PgDn  Home End   move',
  '  Enter          open the directory',
  '  Backspace      up to the parent directory',
  '  ← h / → l      tree pane / files pane (in the tree: collapse / expand)',
  '  g  get the file (asks for a local path)   p  put a local file here',
  '  m  new directory    r  rename or move    d  delete (asks y/n)',
  '  /  find names by glob (Enter on a match goes there)',
  '  F5 or R  refresh    Tab  cluster dashboard    ?  this help    q  quit',
  '',
  '{gray-fg}Any key closes this help.{/gray-fg}',
].join('\n');

/** Errors that mean the master could not be reached (the next call reconnects). */
function connectionLost(error: unknown): boolean {
  return isDfsError(error, 'UNAVAILABLE') || isDfsError(error, 'TIMEOUT');
}

class TuiApp implements actions.ActionHost {
  readonly api: ClusterApi;
  readonly dialogs: Dialogs;
  readonly localCwd: string;
  cwd: string = ROOT;
  /** The directory last asked for: `cwd` once its listing has arrived. */
  private heading: string = ROOT;
  private readonly view: ExplorerView;
  private readonly dashboard: DashboardView;
  private readonly tree = new DirectoryTree();
  private readonly history = new RateHistory(TUI_POLL_INTERVAL_MS / 2);
  private entries: Entry[] = [];
  private selected = 0;
  private pane: Pane = 'entries';
  private treePath: string = ROOT;
  private message: { text: string; error: boolean } = { text: 'press ? for help', error: false };
  /** Why the master is not answering, while it is not. */
  private lost: string | undefined;
  private readonly cluster: ClusterView;
  private healthAtMs = -Infinity;
  private busy: string | undefined;
  private clientBytes = 0;
  private loadSeq = 0;
  private detailsSeq = 0;
  private detailsTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private quit: (() => void) | undefined;
  /** The user has left: nothing more is asked or drawn (an action may still be finishing). */
  private closed = false;

  constructor(
    private readonly screen: blessed.Widgets.Screen,
    private readonly options: TuiOptions,
  ) {
    this.api = options.api;
    this.localCwd = options.localCwd ?? process.cwd();
    this.view = new ExplorerView(screen);
    this.dashboard = new DashboardView(screen, this.history);
    this.dialogs = new Dialogs(screen);
    this.cluster = { nodes: undefined, total: undefined, nodesProblem: undefined, health: undefined, healthProblem: undefined, admin: options.identity.admin };
  }

  run(): Promise<void> {
    const done = new Promise<void>((resolve) => (this.quit = resolve));
    this.screen.on('keypress', (ch: string | undefined, key: Key) => this.onKey(ch, key));
    this.screen.on('resize', () => {
      this.render();
      this.scheduleDetails();
    });
    this.view.focus(this.pane);
    this.render();
    void this.open(this.options.cwd ?? ROOT);
    void this.poll();
    this.pollTimer = setInterval(() => void this.poll(), TUI_POLL_INTERVAL_MS);
    return done;
  }

  stop(): void {
    this.closed = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.detailsTimer);
  }

  /** q: quits, after asking when a transfer or another action is still running. */
  private leave(): void {
    if (this.busy === undefined) return this.quit?.();
    void this.dialogs.confirm('Quit', `${this.busy} is still running. Quit anyway?`).then((yes) => yes && this.quit?.());
  }

  // ---- keys ---------------------------------------------------------------------------------

  private onKey(ch: string | undefined, key: Key): void {
    if (this.dialogs.active || key.name === 'return') return;
    const name = key.full || ch || '';
    if (name === 'q' || name === 'C-c') return this.leave();
    if (name === 'tab' || name === 'S-tab') return this.toggleDashboard();
    if (name === '?') return void this.dialogs.page('Keys', HELP);
    if (name === 'f5' || name === 'S-r') return this.refresh();
    if (this.dashboard.visible) return this.dashboardKey(name);
    if (this.navigationKey(name)) return;
    const action = ACTIONS[name];
    if (action) this.act(action.what, () => action.run(this));
  }

  private dashboardKey(name: string): void {
    const lines: Record<string, number> = { up: -1, k: -1, down: 1, j: 1, pageup: -5, pagedown: 5 };
    const by = lines[name];
    if (by === undefined) return;
    this.dashboard.scroll(by);
    this.screen.render();
  }

  /** Moves and opens; true when `name` was such a key. */
  private navigationKey(name: string): boolean {
    const page = this.view.pageRows;
    const moves: Record<string, number> = { up: -1, k: -1, down: 1, j: 1, pageup: -page, pagedown: page, home: -Infinity, end: Infinity };
    const move = moves[name];
    if (move !== undefined) {
      this.move(move);
      return true;
    }
    switch (name) {
      case 'enter':
        this.enter();
        return true;
      case 'backspace':
        // From where the user is going (a listing may still be on its way), so keys can be typed ahead.
        if (this.heading !== ROOT) void this.open(parentOf(this.heading), baseName(this.heading));
        return true;
      case 'left':
      case 'h':
        this.left();
        return true;
      case 'right':
      case 'l':
        this.right();
        return true;
      case 'space':
        if (this.pane === 'tree') void this.open(this.treePath);
        return true;
      default:
        return false;
    }
  }

  private move(by: number): void {
    if (this.pane === 'entries') {
      const last = Math.max(0, this.entries.length - 1);
      this.selected = Math.min(last, Math.max(0, by === -Infinity ? 0 : by === Infinity ? last : this.selected + by));
    } else {
      const rows = this.tree.rows();
      const index = rows.findIndex((row) => row.path === this.treePath);
      const last = rows.length - 1;
      const next = Math.min(last, Math.max(0, by === -Infinity ? 0 : by === Infinity ? last : index + by));
      this.treePath = rows[next]?.path ?? ROOT;
    }
    this.render();
    this.scheduleDetails();
  }

  private enter(): void {
    if (this.pane === 'tree') {
      this.setPane('entries');
      void this.open(this.treePath);
      return;
    }
    const entry = this.entries[this.selected];
    if (entry?.kind === 'dir') void this.open(entry.path);
    else if (entry) this.say(`${entry.name} is a file: g downloads it`);
  }

  private left(): void {
    if (this.pane === 'entries') {
      this.treePath = this.cwd;
      this.setPane('tree');
    } else if (this.tree.isExpanded(this.treePath) && this.treePath !== ROOT) {
      this.tree.collapse(this.treePath);
      this.render();
    } else {
      this.treePath = parentOf(this.treePath);
      this.render();
      this.scheduleDetails();
    }
  }

  private right(): void {
    if (this.pane === 'entries') {
      const entry = this.entries[this.selected];
      if (entry?.kind === 'dir') void this.open(entry.path);
      return;
    }
    if (this.tree.isExpanded(this.treePath) && this.tree.isLoaded(this.treePath)) {
      this.setPane('entries');
      return;
    }
    this.tree.expand(this.treePath);
    void this.loadTree(this.treePath);
  }

  private setPane(pane: Pane): void {
    this.pane = pane;
    this.view.focus(pane);
    this.render();
    this.scheduleDetails();
  }

  private toggleDashboard(): void {
    if (this.dashboard.visible) {
      this.dashboard.hide();
      this.view.root.show();
    } else {
      this.view.root.hide();
      this.dashboard.show(this.cluster);
      this.healthAtMs = -Infinity;
      void this.poll();
    }
    this.render();
  }

  private refresh(): void {
    void this.open(this.cwd).then((opened) => opened && this.say(`refreshed ${this.cwd}`));
    this.healthAtMs = -Infinity;
    void this.poll();
  }

  /** Runs an action key's work unless another is running; its failure goes to the status line. */
  private act(what: string, work: () => Promise<void>): void {
    if (this.busy !== undefined) return this.say(`${this.busy} is still running`, true);
    this.busy = what;
    work()
      .catch((error: unknown) => this.fail(what, error))
      .finally(() => {
        this.busy = undefined;
        this.render();
      });
  }

  // ---- loading ------------------------------------------------------------------------------

  /** Lists `path` into the entries pane (and the tree); false if it could not be listed. */
  async open(path: string, select?: string): Promise<boolean> {
    const seq = ++this.loadSeq;
    this.heading = path;
    try {
      for (const ancestor of this.tree.unloadedAncestors(path)) this.tree.setChildren(ancestor, await this.api.list(ancestor));
      const entries = sortEntries(await this.api.list(path));
      if (seq !== this.loadSeq) return false;
      this.tree.setChildren(path, entries);
      this.tree.reveal(path);
      const stay = path === this.cwd ? (this.entries[this.selected]?.name ?? undefined) : undefined;
      const wanted = select ?? stay;
      const index = wanted === undefined ? -1 : entries.findIndex((entry) => entry.name === wanted);
      this.selected = index >= 0 ? index : path === this.cwd ? Math.min(this.selected, Math.max(0, entries.length - 1)) : 0;
      this.cwd = path;
      this.entries = entries;
      if (this.pane === 'entries') this.treePath = path;
      this.answered();
      this.render();
      this.scheduleDetails();
      return true;
    } catch (error) {
      if (seq !== this.loadSeq) return false;
      if (isDfsError(error, 'NOT_FOUND') && path !== ROOT && path === this.cwd) return this.open(parentOf(path));
      this.heading = this.cwd;
      this.fail(`open ${path}`, error);
      return false;
    }
  }

  private async loadTree(path: string): Promise<void> {
    try {
      this.tree.setChildren(path, await this.api.list(path));
      this.answered();
    } catch (error) {
      this.fail(`open ${path}`, error);
    }
    this.render();
  }

  private scheduleDetails(): void {
    clearTimeout(this.detailsTimer);
    if (this.closed) return;
    const seq = ++this.detailsSeq;
    const entry = this.pane === 'entries' ? this.entries[this.selected] : undefined;
    const path = this.pane === 'entries' ? entry?.path : this.treePath;
    if (path === undefined) {
      this.view.showDetails(this.entries.length === 0 ? `${literal(this.cwd)} is empty: p puts a file here, m makes a directory` : '');
      this.screen.render();
      return;
    }
    const width = this.view.detailsWidth;
    this.view.showDetails(detailsText(path, entry, false, undefined, width));
    this.screen.render();
    this.detailsTimer = setTimeout(() => {
      this.api.stat(path).then(
        (stat) => seq === this.detailsSeq && this.view.showDetails(detailsText(path, stat, true, undefined, width)),
        (error: unknown) => seq === this.detailsSeq && this.view.showDetails(detailsText(path, entry, false, `stat: ${reasonOf(error)}`, width)),
      ).finally(() => this.screen.render());
    }, TUI_DETAILS_DELAY_MS);
  }

  /** Asks the master for the nodes: feeds the dashboard, and tells whether the master answers. */
  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const { nodes, total, rebalance } = await this.api.cluster();
      this.cluster.nodes = nodes;
      this.cluster.total = total;
      this.cluster.rebalance = rebalance;
      this.cluster.nodesProblem = undefined;
      this.history.record(Date.now(), nodes.length > 0 ? nodes : [{ nodeId: 'cluster', usedBytes: total.usedBytes }], this.clientBytes);
      const wasLost = this.lost !== undefined;
      this.answered();
      if (wasLost) {
        this.say(`reconnected to ${this.options.master}`);
        void this.open(this.cwd);
      }
      if (this.dashboard.visible && Date.now() - this.healthAtMs >= TUI_HEALTH_INTERVAL_MS) await this.checkHealth();
    } catch (error) {
      this.cluster.nodesProblem = `cannot list the nodes: ${reasonOf(error)}`;
      if (connectionLost(error)) this.lost = reasonOf(error);
    } finally {
      this.polling = false;
      this.render();
    }
  }

  /** The files' health for the dashboard (fsck of the user's root: every user's for the admin). */
  private async checkHealth(): Promise<void> {
    this.healthAtMs = Date.now();
    try {
      this.cluster.health = await this.api.fsck(ROOT);
      this.cluster.healthProblem = undefined;
    } catch (error) {
      if (connectionLost(error)) throw error;
      this.cluster.health = undefined;
      this.cluster.healthProblem = reasonOf(error);
    }
  }

  // ---- ActionHost ---------------------------------------------------------------------------

  target(): actions.Target | undefined {
    if (this.pane === 'tree') return { path: this.treePath, kind: 'dir', entry: undefined };
    const entry = this.entries[this.selected];
    return entry ? { path: entry.path, kind: entry.kind, entry } : undefined;
  }

  say(text: string, error = false): void {
    this.message = { text, error };
    this.render();
  }

  async transfer<T>(label: string, work: (onProgress: ProgressListener) => Promise<T>, finishing?: string): Promise<T> {
    const progress = this.dialogs.progress(label, TUI_PROGRESS_INTERVAL_MS, finishing);
    let counted = 0;
    try {
      return await work((bytes, totalBytes) => {
        this.clientBytes += bytes - counted;
        counted = bytes;
        progress.update(bytes, totalBytes);
      });
    } finally {
      progress.close();
    }
  }

  private answered(): void {
    if (this.lost !== undefined) this.lost = undefined;
  }

  private fail(what: string, error: unknown): void {
    if (connectionLost(error)) this.lost = reasonOf(error);
    this.say(`${what}: ${reasonOf(error)}`, true);
  }

  // ---- drawing ------------------------------------------------------------------------------

  private render(): void {
    const width = Number(this.screen.width);
    const where = this.dashboard.visible ? `cluster at ${this.options.master}` : this.cwd;
    const hints = width >= 60 ? 'Tab cluster  ? help  q quit ' : '? help ';
    const left = ` dfs  ${where}`;
    this.view.pathBar.setContent(`{bold}${literal(fit(left, Math.max(1, width - hints.length)))}{/bold}${hints}`);
    this.view.status.setContent(this.statusText(width));
    if (this.dashboard.visible) {
      this.dashboard.show(this.cluster);
    } else {
      const rows = this.tree.rows();
      const treeIndex = rows.findIndex((row) => row.path === (this.pane === 'tree' ? this.treePath : this.cwd));
      this.view.showTree(rows, treeIndex, this.cwd);
      this.view.showEntries(this.cwd, this.entries, this.selected);
    }
    this.screen.render();
  }

  private statusText(width: number): string {
    const who = ` ${this.options.identity.user}@${this.options.master}`;
    const counts = summaryText(summarize(this.entries));
    const busy = this.busy !== undefined ? ` [${this.busy}…]` : '';
    const plain = `${who} │ ${counts}${busy} │ `;
    if (this.lost !== undefined) {
      const text = `MASTER UNREACHABLE, retrying every ${TUI_POLL_INTERVAL_MS / 1000}s: ${this.lost}`;
      return `${literal(plain)}{red-fg}{bold}${literal(fit(text, Math.max(1, width - plain.length)).trimEnd())}{/bold}{/red-fg}`;
    }
    const message = literal(fit(this.message.text, Math.max(1, width - plain.length)).trimEnd());
    return `${literal(plain)}${this.message.error ? `{red-fg}${message}{/red-fg}` : message}`;
  }
}

const ACTIONS: Record<string, { what: string; run: (host: actions.ActionHost) => Promise<void> }> = {
  g: { what: 'get', run: actions.getFile },
  p: { what: 'put', run: actions.putFile },
  m: { what: 'mkdir', run: actions.makeDirectory },
  r: { what: 'rename', run: actions.rename },
  d: { what: 'delete', run: actions.remove },
  '/': { what: 'find', run: actions.find },
};
