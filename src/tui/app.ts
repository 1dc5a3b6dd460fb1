// The full-screen explorer (`dfs tui`, and `tui` inside the shell): its state (where the user is on the
// cluster and on this machine, what is selected and marked, the order and view of the files, whether the
// master answers), its keys, and the cluster poll that feeds the dashboard and notices a lost master. It sees
// the cluster only through ClusterApi (and the shell commands it runs on it).

import type * as blessed from 'blessed';
import * as local from 'node:path';
import type { ClusterApi, Entry, Identity, ProgressListener } from '../client/api';
import { isDfsError } from '../wire/errors';
import { baseName, parentOf, ROOT } from '../paths';
import type { ShellCommand, ShellContext, ShellOutput } from '../shell/context';
import { reasonOf } from '../shell/errors';
import * as actions from './actions';
import { TUI_DETAILS_DELAY_MS, TUI_HEALTH_INTERVAL_MS, TUI_POLL_INTERVAL_MS, TUI_PROGRESS_INTERVAL_MS } from './constants';
import { DashboardView, RateHistory, type ClusterView } from './dashboard';
import { Dialogs, literal } from './dialogs';
import { detailsText, ExplorerView, type Pane } from './explorer';
import { listLocal, type LocalEntry } from './local';
import { DirectoryTree, fit, nextSort, sortEntries, summarize, summaryText, type SortOrder } from './model';
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
  '  Enter  open the directory       Backspace  up to the parent',
  '  ← h / → l   tree pane / files pane (in the tree: collapse / expand)',
  '  Tab    this machine\'s files (left) ⇄ the cluster\'s (right)',
  '  Space  mark / unmark (g, p, r, c and d then work on every marked entry)',
  '  g  get (directories too)   p  put (from the local pane: its marked entries)',
  '  c  copy on the cluster     r  rename or move     d  delete (asks y/n)',
  '  m  new directory           v  view a small text file',
  '  s  sort by name, size, time      z  size view: bars and share of the directory',
  '  /  find names by glob (Enter on a match goes there)',
  '  F5 or R  refresh    D or F2  cluster dashboard    ?  this help    q  quit',
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
  private sort: SortOrder = 'name';
  private sizeView = false;
  /** Marked entries of the files pane (their paths); cleared when another directory is opened. */
  private readonly marked = new Set<string>();
  /** What the left column shows: the directory tree, or this machine's directory. */
  private left: 'tree' | 'local' = 'tree';
  private localDir: string;
  private localEntries: LocalEntry[] = [];
  private localSelected = 0;
  private readonly localMarked = new Set<string>();
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
    this.localDir = options.localCwd ?? process.cwd();
    this.view = new ExplorerView(screen);
    this.dashboard = new DashboardView(screen, this.history);
    this.dialogs = new Dialogs(screen);
    this.cluster = { nodes: undefined, total: undefined, nodesProblem: undefined, health: undefined, healthProblem: undefined, admin: options.identity.admin };
  }

  /** The local pane's directory: where local paths typed in get and put are relative to. */
  get localCwd(): string {
    return this.localDir;
  }

  run(): Promise<void> {
    const done = new Promise<void>((resolve) => (this.quit = resolve));
    this.screen.on('keypress', (ch: string | undefined, key: Key) => this.onKey(ch, key));
    this.screen.on('resize', () => {
      this.render();
      this.scheduleDetails();
    });
    this.view.focus(this.pane, this.left);
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
    if (name === 'S-d' || name === 'D' || name === 'f2') return this.toggleDashboard();
    if (name === '?') return void this.dialogs.page('Keys', HELP);
    if (name === 'f5' || name === 'S-r') return this.refresh();
    if (this.dashboard.visible) return this.dashboardKey(name);
    if (name === 'tab' || name === 'S-tab') return this.toggleLocal();
    if (name === 's') return this.cycleSort();
    if (name === 'z') return this.toggleSizeView();
    if (this.pane === 'local' ? this.localKey(name) : this.navigationKey(name)) return;
    if (name === 'v') return this.act('view', () => actions.preview(this, Math.max(20, Number(this.screen.width) - 8), Math.max(3, Number(this.screen.height) - 7)));
    const action = ACTIONS[name];
    if (action) this.act(action.what, () => action.run(this));
  }

  /** Keys of the local pane; false for the action keys it leaves to ACTIONS (p puts what is marked here). */
  private localKey(name: string): boolean {
    const page = this.view.pageRows;
    const moves: Record<string, number> = { up: -1, k: -1, down: 1, j: 1, pageup: -page, pagedown: page, home: -Infinity, end: Infinity };
    const move = moves[name];
    const last = Math.max(0, this.localEntries.length - 1);
    const current = this.localEntries[this.localSelected];
    if (move !== undefined) {
      this.localSelected = Math.min(last, Math.max(0, move === -Infinity ? 0 : move === Infinity ? last : this.localSelected + move));
    } else if (name === 'enter' || name === 'l') {
      if (current?.kind === 'dir') void this.openLocal(current.path);
    } else if (name === 'backspace' || name === 'h') {
      void this.openLocal(local.dirname(this.localDir), local.basename(this.localDir));
    } else if (name === 'space') {
      if (current) toggle(this.localMarked, current.path);
      this.localSelected = Math.min(last, this.localSelected + 1);
    } else if (name === 'right') {
      this.setPane('entries');
    } else {
      return false;
    }
    this.render();
    return true;
  }

  /** Tab: the local pane (in the left column) takes the keys, or gives them back to the files pane. */
  private toggleLocal(): void {
    if (this.pane === 'local') return this.setPane('entries');
    const first = this.left !== 'local';
    this.left = 'local';
    this.setPane('local');
    if (first) void this.openLocal(this.localDir);
  }

  /** Both panes in `order`, each keeping its selected entry selected. */
  private resort(order: SortOrder): void {
    this.sort = order;
    const name = this.entries[this.selected]?.name;
    this.entries = sortEntries(this.entries, this.sort);
    this.selected = Math.max(0, this.entries.findIndex((entry) => entry.name === name));
    const localName = this.localEntries[this.localSelected]?.name;
    this.localEntries = sortEntries(this.localEntries, this.sort);
    this.localSelected = Math.max(0, this.localEntries.findIndex((entry) => entry.name === localName));
  }

  private cycleSort(): void {
    this.resort(nextSort(this.sort));
    this.say(`sorted by ${this.sort}${this.sort === 'name' ? ' (directories first)' : this.sort === 'size' ? ' (biggest first)' : ' (newest first)'}`);
  }

  /** z: ncdu's view of the files pane — each entry's share of the directory as a bar, biggest first. */
  private toggleSizeView(): void {
    this.sizeView = !this.sizeView;
    if (this.sizeView && this.sort !== 'size') this.resort('size');
    this.say(this.sizeView ? 'size view: each entry\'s share of the directory (z: back)' : 'size view off');
  }

  /** Lists a local directory into the local pane, selecting `select` (a name in it) when given. */
  private async openLocal(directory: string, select?: string): Promise<void> {
    try {
      const entries = await listLocal(directory, this.sort);
      if (directory !== this.localDir) this.localMarked.clear();
      const index = select === undefined ? -1 : entries.findIndex((entry) => entry.name === select);
      this.localSelected = index >= 0 ? index : directory === this.localDir ? Math.min(this.localSelected, Math.max(0, entries.length - 1)) : 0;
      this.localDir = directory;
      this.localEntries = entries;
    } catch (error) {
      this.say(`local ${directory}: ${reasonOf(error)}`, true);
    }
    this.render();
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
        this.leftKey();
        return true;
      case 'right':
      case 'l':
        this.right();
        return true;
      case 'space':
        if (this.pane === 'tree') void this.open(this.treePath);
        else this.markSelected();
        return true;
      default:
        return false;
    }
  }

  /** Space in the files pane: marks (or unmarks) the selected entry and moves on, as in mc. */
  private markSelected(): void {
    const entry = this.entries[this.selected];
    if (entry) toggle(this.marked, entry.path);
    this.selected = Math.min(Math.max(0, this.entries.length - 1), this.selected + 1);
    this.say(this.marked.size > 0 ? `${this.marked.size} marked: g, r, c and d work on them` : 'nothing marked');
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

  private leftKey(): void {
    if (this.pane === 'entries') {
      this.treePath = this.cwd;
      this.left = 'tree';
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
    this.view.focus(pane, this.left);
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
      const entries = sortEntries(await this.api.list(path), this.sort);
      if (seq !== this.loadSeq) return false;
      if (path !== this.cwd) this.marked.clear();
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
    if (this.pane === 'local') return undefined; // the cluster's actions never act on a local selection
    if (this.pane === 'tree') return { path: this.treePath, kind: 'dir', entry: undefined };
    const entry = this.entries[this.selected];
    return entry ? { path: entry.path, kind: entry.kind, entry } : undefined;
  }

  targets(): actions.Target[] {
    if (this.pane === 'local') return [];
    if (this.pane === 'entries' && this.marked.size > 0) {
      return this.entries.filter((entry) => this.marked.has(entry.path)).map((entry) => ({ path: entry.path, kind: entry.kind, entry }));
    }
    const target = this.target();
    return target ? [target] : [];
  }

  localTargets(): LocalEntry[] | undefined {
    if (this.pane !== 'local') return undefined;
    if (this.localMarked.size > 0) return this.localEntries.filter((entry) => this.localMarked.has(entry.path));
    const entry = this.localEntries[this.localSelected];
    return entry ? [entry] : [];
  }

  clearMarks(): void {
    this.marked.clear();
    this.localMarked.clear();
  }

  async reloadLocal(): Promise<void> {
    if (this.left === 'local') await this.openLocal(this.localDir);
  }

  async shell(command: ShellCommand, args: string[]): Promise<string> {
    let printed = '';
    const errors: string[] = [];
    const out: ShellOutput = {
      stdout: (text) => {
        printed += text;
      },
      stderr: (text) => {
        // The command's progress line ("\r12M / 48M  25%  …\x1b[K") goes to the status line; the rest are errors.
        if (text.startsWith('\r')) {
          const line = text.replace(/\r|\x1b\[K/g, '').trim();
          if (line !== '') this.say(`${command.name}: ${line}`);
          return;
        }
        errors.push(...text.split('\n').filter((line) => line !== ''));
      },
      columns: Number(this.screen.width),
    };
    const ctx: ShellContext = {
      api: this.api, identity: this.options.identity, master: this.options.master, cwd: this.cwd, passwordless: false, env: process.env, prompt: undefined, exitRequested: false,
    };
    try {
      await command.run(args, ctx, out);
    } catch (error) {
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
      throw new Error(errors.length > 0 ? `${(errors[0] ?? '').replace(/^dfs: \S+: /, '')}${more}` : reasonOf(error));
    }
    return printed.trim().split('\n').filter((line) => !/: replicated \d+\/\d+$/.test(line)).at(-1) ?? 'done';
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
    const hints = width >= 60 ? 'Tab local  D cluster  ? help  q quit ' : '? help ';
    const left = ` dfs  ${where}`;
    this.view.pathBar.setContent(`{bold}${literal(fit(left, Math.max(1, width - hints.length)))}{/bold}${hints}`);
    this.view.status.setContent(this.statusText(width));
    if (this.dashboard.visible) {
      this.dashboard.show(this.cluster);
    } else {
      if (this.left === 'local') {
        this.view.showLocal(this.localDir, this.localEntries, this.localSelected, this.localMarked);
      } else {
        const rows = this.tree.rows();
        const treeIndex = rows.findIndex((row) => row.path === (this.pane === 'tree' ? this.treePath : this.cwd));
        this.view.showTree(rows, treeIndex, this.cwd);
      }
      this.view.showEntries(this.cwd, this.entries, this.selected, { sort: this.sort, sizeView: this.sizeView, marked: this.marked });
    }
    this.screen.render();
  }

  /** The message first (it says what just happened), then the directory's counts and who is logged in where, as
   * far as they fit: nothing is cut at 80 columns but a message longer than the line. */
  private statusText(width: number): string {
    const busy = this.busy !== undefined ? `[${this.busy}…] ` : '';
    const lost = this.lost !== undefined ? `MASTER UNREACHABLE, retrying every ${TUI_POLL_INTERVAL_MS / 1000}s: ${this.lost}` : undefined;
    const message = ` ${busy}${lost ?? this.message.text}`;
    const marked = this.marked.size + this.localMarked.size;
    let tail = '';
    for (const part of [summaryText(summarize(this.entries)) + (marked > 0 ? `, ${marked} marked` : ''), `${this.options.identity.user}@${this.options.master}`]) {
      if ([...message].length + [...tail].length + part.length + 3 < width) tail += ` │ ${part}`;
    }
    const shown = literal(fit(message, Math.max(1, width - [...tail].length - 1)).trimEnd());
    const colored = lost !== undefined ? `{red-fg}{bold}${shown}{/bold}{/red-fg}` : this.message.error ? `{red-fg}${shown}{/red-fg}` : shown;
    const gap = ' '.repeat(Math.max(1, width - 1 - [...tail].length - [...fit(message, Math.max(1, width - [...tail].length - 1)).trimEnd()].length));
    return `${colored}${gap}{gray-fg}${literal(tail.trimStart())}{/gray-fg}`;
  }
}

/** Adds `key` to `set`, or takes it out if it was there. */
function toggle(set: Set<string>, key: string): void {
  if (!set.delete(key)) set.add(key);
}

const ACTIONS: Record<string, { what: string; run: (host: actions.ActionHost) => Promise<void> }> = {
  g: { what: 'get', run: actions.getFile },
  p: { what: 'put', run: actions.putFile },
  m: { what: 'mkdir', run: actions.makeDirectory },
  r: { what: 'rename', run: actions.rename },
  d: { what: 'delete', run: actions.remove },
  '/': { what: 'find', run: actions.find },
  c: { what: 'copy', run: actions.copy },
};
