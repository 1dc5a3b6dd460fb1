// The explorer screen's widgets and how state is drawn on them: the directory tree or this machine's
// directory (left), the current directory's entries (right, with a column header naming the sort; marked
// entries starred; in the size view each with its share of the directory), the details of the selection,
// and the path bar and status line both screens share. It holds no state of its own beyond the widgets.

import * as blessed from 'blessed';
import type { Entry } from '../client/api';
import { timeText } from '../shell/format';
import { formatSize } from '../units';
import { literal } from './dialogs';
import type { LocalEntry } from './local';
import { entryCells, entryHeader, fit, MARK_CHARS, replicaText, shareText, treeRowText, underReplicated, type SortOrder, type TreeRow } from './model';

/** The panes that take keys: the directory tree, the remote entries, this machine's directory. */
export type Pane = 'tree' | 'entries' | 'local';

/** How the entries are drawn: their order, the size view, and which are marked (by path). */
export interface EntriesStyle {
  sort: SortOrder;
  sizeView: boolean;
  marked: ReadonlySet<string>;
}

const FRAME_COLOR = 'gray';
const FOCUSED_FRAME_COLOR = 'cyan';
const SELECTED = { bg: 'blue', fg: 'white', bold: true };
/** How the pane without focus marks its selection. */
const SELECTED_UNFOCUSED = { bg: 'black', fg: 'cyan', bold: true };
const DETAILS_HEIGHT = 7;

export class ExplorerView {
  readonly root: blessed.Widgets.BoxElement;
  readonly pathBar: blessed.Widgets.BoxElement;
  readonly status: blessed.Widgets.BoxElement;
  private readonly treeList: blessed.Widgets.ListElement;
  private readonly localList: blessed.Widgets.ListElement;
  private readonly entriesBox: blessed.Widgets.BoxElement;
  private readonly header: blessed.Widgets.BoxElement;
  private readonly entriesList: blessed.Widgets.ListElement;
  private readonly details: blessed.Widgets.BoxElement;

  constructor(screen: blessed.Widgets.Screen) {
    this.pathBar = blessed.box({ parent: screen, top: 0, left: 0, width: '100%', height: 1, tags: true, style: { bg: 'blue', fg: 'white' } });
    this.status = blessed.box({ parent: screen, bottom: 0, left: 0, width: '100%', height: 1, tags: true, style: { bg: 'black', fg: 'white' } });
    this.root = blessed.box({ parent: screen, top: 1, bottom: 1, left: 0, width: '100%' });
    this.treeList = blessed.list({
      parent: this.root,
      top: 0,
      left: 0,
      width: '30%',
      bottom: DETAILS_HEIGHT,
      label: ' Tree ',
      border: { type: 'line' },
      tags: true,
      style: { border: { fg: FRAME_COLOR }, selected: SELECTED },
    });
    this.localList = blessed.list({
      parent: this.root,
      top: 0,
      left: 0,
      width: '30%',
      bottom: DETAILS_HEIGHT,
      label: ' Local ',
      border: { type: 'line' },
      tags: true,
      hidden: true,
      style: { border: { fg: FRAME_COLOR }, selected: SELECTED },
    });
    this.entriesBox = blessed.box({
      parent: this.root,
      top: 0,
      left: '30%',
      right: 0,
      bottom: DETAILS_HEIGHT,
      label: ' Files ',
      border: { type: 'line' },
      tags: true,
      style: { border: { fg: FRAME_COLOR } },
    });
    this.header = blessed.box({ parent: this.entriesBox, top: 0, left: 0, right: 0, height: 1, tags: true, style: { fg: 'white', bold: true } });
    this.entriesList = blessed.list({ parent: this.entriesBox, top: 1, left: 0, right: 0, bottom: 0, tags: true, style: { selected: SELECTED } });
    this.details = blessed.box({
      parent: this.root,
      bottom: 0,
      left: 0,
      width: '100%',
      height: DETAILS_HEIGHT,
      label: ' Details ',
      border: { type: 'line' },
      tags: true,
      style: { border: { fg: FRAME_COLOR } },
    });
  }

  /** Rows the entries list shows at once (for page up/down). */
  get pageRows(): number {
    return Math.max(1, Number(this.entriesList.height));
  }

  /** The focused pane has a cyan frame and a filled selection; the others a grey frame. The left column shows the
   * local pane or the tree, whichever was used last. */
  focus(pane: Pane, left: 'tree' | 'local'): void {
    for (const [list, own] of [[this.treeList, 'tree'], [this.localList, 'local']] as const) {
      list.style.border = { fg: pane === own ? FOCUSED_FRAME_COLOR : FRAME_COLOR };
      list.style.selected = pane === own ? SELECTED : SELECTED_UNFOCUSED;
      if (left === own) list.show();
      else list.hide();
    }
    this.entriesBox.style.border = { fg: pane === 'entries' ? FOCUSED_FRAME_COLOR : FRAME_COLOR };
    this.entriesList.style.selected = pane === 'entries' ? SELECTED : SELECTED_UNFOCUSED;
  }

  /** This machine's directory: its entries (directories end in /), the marked ones starred. */
  showLocal(directory: string, entries: readonly LocalEntry[], selected: number, marked: ReadonlySet<string>): void {
    const width = lineWidth(this.localList);
    this.localList.setLabel(` Local ${literal(fit(directory, Math.max(1, width - 8)).trimEnd())} `);
    if (entries.length === 0) {
      this.localList.setItems(['{gray-fg}(empty directory){/gray-fg}']);
      this.localList.select(0);
      return;
    }
    const nameWidth = Math.max(4, width - MARK_CHARS - 7);
    this.localList.setItems(entries.map((entry) => {
      const name = literal(fit(entry.kind === 'dir' ? `${entry.name}/` : entry.name, nameWidth));
      const row = `${name} ${(entry.kind === 'dir' ? '' : formatSize(entry.size)).padStart(6)}`;
      return markedRow(marked.has(entry.path), entry.kind === 'dir' ? `{cyan-fg}${row}{/cyan-fg}` : row);
    }));
    this.localList.select(Math.max(0, selected));
  }

  showTree(rows: readonly TreeRow[], selected: number, cwd: string): void {
    this.treeList.setItems(
      rows.map((row) => {
        const text = literal(treeRowText(row));
        return row.path === cwd ? `{bold}${text}{/bold}` : text;
      }),
    );
    this.treeList.select(Math.max(0, selected));
  }

  showEntries(cwd: string, entries: readonly Entry[], selected: number, style: EntriesStyle): void {
    const width = lineWidth(this.entriesList);
    const view = style.sizeView ? ', size view' : '';
    this.entriesBox.setLabel(` ${literal(cwd)} (by ${style.sort}${view}) `);
    this.header.setContent(literal(entryHeader(width, style.sort, style.sizeView)));
    if (entries.length === 0) {
      this.entriesList.setItems(['{gray-fg}(empty directory){/gray-fg}']);
      this.entriesList.select(0);
      return;
    }
    const total = entries.reduce((sum, entry) => sum + entry.size, 0);
    this.entriesList.setItems(entries.map((entry) => {
      const share = style.sizeView ? `{green-fg}${shareText(entry.size, total)}{/green-fg} ` : '';
      return markedRow(style.marked.has(entry.path), `${share}${entryItem(entry, width, style.sizeView)}`);
    }));
    this.entriesList.select(Math.max(0, selected));
  }

  showDetails(text: string): void {
    this.details.setContent(text);
  }

  /** Characters a line of the details pane holds. */
  get detailsWidth(): number {
    return lineWidth(this.details) - 2;
  }
}

/**
 * Characters a line of `element` may hold: one less than its inner width, because blessed wraps a
 * line that fills the width exactly when colour tags follow its last character.
 */
export function lineWidth(element: blessed.Widgets.BlessedElement): number {
  return Math.max(20, Number(element.width) - 1);
}

/** A row with its mark column: "* " in yellow when marked. */
function markedRow(marked: boolean, row: string): string {
  return marked ? `{yellow-fg}{bold}*{/bold}{/yellow-fg} ${row}` : `${' '.repeat(MARK_CHARS)}${row}`;
}

function entryItem(entry: Entry, width: number, sizeView: boolean): string {
  const cells = entryCells(entry, width, sizeView);
  const name = entry.kind === 'dir' ? `{cyan-fg}{bold}${literal(cells.name)}{/bold}{/cyan-fg}` : literal(cells.name);
  const lagging = entry.replicas !== null && entry.replicas.have === 0 ? 'red' : underReplicated(entry) ? 'yellow' : undefined;
  const replicas = lagging ? `{${lagging}-fg}${cells.replicas}{/${lagging}-fg}` : cells.replicas;
  const row = `${name} ${cells.size} ${replicas}`;
  return cells.time === undefined ? row : `${row} {gray-fg}${cells.time}{/gray-fg}`;
}

/** 14 → "14 bytes", 300000 → "293K (300000 bytes)". */
export function bytesText(bytes: number): string {
  return bytes < 1024 ? `${bytes} byte${bytes === 1 ? '' : 's'}` : `${formatSize(bytes)} (${bytes} bytes)`;
}

/**
 * The details pane for `path` in lines of `width`: what is known so far (`known`, from the listing or
 * stat; nothing yet for a directory picked in the tree), `complete` once stat answered (SHA-256, the
 * replicas' nodes), and a line saying why stat could not be asked.
 */
export function detailsText(path: string, known: Entry | undefined, complete: boolean, problem: string | undefined, width: number): string {
  const lines = [`{bold}${literal(fit(path, width).trimEnd())}{/bold}`];
  if (known) {
    const size = known.kind === 'dir' ? `directory, ${bytesText(known.size)} in all` : `file, ${bytesText(known.size)}`;
    lines.push(literal(fit(`${size}, modified ${timeText(known.mtimeMs)}`, width).trimEnd()));
  }
  if (known?.kind === 'file') {
    lines.push(`SHA-256   ${complete ? (known.sha256 ?? '(none)') : '…'}`);
    const nodes = known.replicas?.nodes ?? [];
    const where = complete ? (nodes.length > 0 ? ` on ${nodes.join(', ')}` : ' (no live copy)') : '';
    // Up to two lines: blessed wraps the rest of the node list onto the next.
    lines.push(literal(fit(`Replicas  ${replicaText(known)}${where}`, width * 2 - 1).trimEnd()));
  }
  if (problem !== undefined) lines.push(`{red-fg}${literal(fit(problem, width).trimEnd())}{/red-fg}`);
  return lines.join('\n');
}
