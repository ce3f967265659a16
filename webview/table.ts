/**
 * A virtual grid: fixed row height, only the visible rows plus an overscan live in the DOM (a pool of row
 * elements reused as the view scrolls), so a million rows cost a handful of elements. Rows stay arrays of cells
 * in the model; cells are written with `textContent` only.
 *
 * Geometry. The grid element is the scroll container (role="grid", focusable). Inside: a sticky header row, then
 * a body whose height stands for all rows. Past MAX_BODY_PX (browsers cap element heights) the body is shorter
 * than rows × ROW_HEIGHT and the scroll position maps proportionally onto the rows.
 *
 * Keyboard. Arrows move a cell cursor (aria-activedescendant names the cursor cell), PageUp/PageDown a page,
 * Home/End the row's ends, Ctrl+Home/End the first/last row; Ctrl/Cmd+C copies the cell, Ctrl/Cmd+Shift+C the row
 * (tab-separated), through the host.
 */
import type { Cell, ResultColumn } from '../src/core/events';
import { cellCopyText, cellText } from './format';

export const ROW_HEIGHT = 22;
export const HEADER_HEIGHT = 24;
const OVERSCAN = 8;
const MAX_GRID_HEIGHT = 400;
const MAX_BODY_PX = 15_000_000;
const MIN_COL = 56;
const MAX_COL = 360;
const CHAR_PX = 7.2;

export interface TableSource {
  readonly columns: readonly ResultColumn[];
  readonly rows: readonly (readonly Cell[])[];
}

interface PooledRow {
  element: HTMLDivElement;
  cells: HTMLDivElement[];
  /** What each cell shows (so a render compares strings, never reads the DOM back). */
  texts: string[];
  nulls: boolean[];
  index: number;
}

let tableCounter = 0;

function columnWidth(chars: number): number {
  return Math.round(Math.max(MIN_COL, Math.min(MAX_COL, chars * CHAR_PX + 16)));
}

export class VirtualTable {
  readonly element: HTMLDivElement;
  private readonly header: HTMLDivElement;
  private readonly body: HTMLDivElement;
  private readonly layer: HTMLDivElement;
  private readonly cursorId: string;
  private pool: PooledRow[] = [];
  private columnCount = -1;
  private widths: number[] = [];
  private widthsSampledRows = 0;
  private rowCount = -1;
  private gridHeight = 0;
  private bodyHeight = 0;
  private cursorRow = -1;
  private cursorCol = 0;

  constructor(
    private source: TableSource,
    private readonly options: { label: string; onCopy: (text: string, what: 'cell' | 'row') => void },
  ) {
    this.cursorId = `grid-cursor-${++tableCounter}`;
    this.element = document.createElement('div');
    this.element.className = 'grid';
    this.element.tabIndex = 0;
    this.element.setAttribute('role', 'grid');
    this.element.setAttribute('aria-label', options.label);
    this.element.setAttribute('aria-readonly', 'true');
    this.header = document.createElement('div');
    this.header.className = 'grid-row grid-header';
    this.header.setAttribute('role', 'row');
    this.header.setAttribute('aria-rowindex', '1');
    this.body = document.createElement('div');
    this.body.className = 'grid-body';
    this.body.setAttribute('role', 'presentation');
    this.layer = document.createElement('div');
    this.layer.className = 'grid-layer';
    this.layer.setAttribute('role', 'rowgroup');
    this.body.appendChild(this.layer);
    this.element.append(this.header, this.body);
    this.element.addEventListener('scroll', () => this.renderRows(), { passive: true });
    this.element.addEventListener('keydown', (event) => this.onKey(event));
    this.element.addEventListener('mousedown', (event) => this.onMouse(event));
    this.element.addEventListener('focus', () => {
      if (this.cursorRow < 0 && this.source.rows.length > 0) this.moveCursor(0, 0);
    });
  }

  setSource(source: TableSource): void {
    this.source = source;
    this.widths = [];
    this.columnCount = -1;
    this.rowCount = -1;
    this.widthsSampledRows = 0;
    this.update();
  }

  /** Call after the data changed (once per frame at most). */
  update(): void {
    const { columns, rows } = this.source;
    if (columns.length !== this.columnCount || (this.widthsSampledRows < 50 && rows.length > this.widthsSampledRows)) {
      this.layoutColumns();
    }
    if (rows.length !== this.rowCount) {
      this.rowCount = rows.length;
      this.element.setAttribute('aria-rowcount', String(rows.length + 1));
      this.bodyHeight = Math.min(rows.length * ROW_HEIGHT, MAX_BODY_PX);
      this.body.style.height = `${this.bodyHeight}px`;
      const height = Math.max(HEADER_HEIGHT + ROW_HEIGHT, Math.min(MAX_GRID_HEIGHT, HEADER_HEIGHT + rows.length * ROW_HEIGHT + 16));
      if (height !== this.gridHeight) {
        this.gridHeight = height;
        this.element.style.height = `${height}px`;
        this.ensurePool();
      }
    }
    this.renderRows();
  }

  /** Scrolls so that row `index` is at the top (used by tests and the bench through the DOM, and by the cursor). */
  scrollToRow(index: number): void {
    this.element.scrollTop = this.scrollTopFor(index * ROW_HEIGHT);
    this.renderRows();
  }

  /** Height of the rows' area: the grid's client height (less a horizontal scrollbar) under the header. */
  private get viewHeight(): number {
    return Math.max(ROW_HEIGHT, (this.element.clientHeight || this.gridHeight) - HEADER_HEIGHT);
  }

  /** The real (unscaled) pixel offset of the top of the visible rows. */
  private realTop(): number {
    const realMax = this.source.rows.length * ROW_HEIGHT - this.viewHeight;
    const scrollMax = this.bodyHeight - this.viewHeight;
    const scrollTop = this.element.scrollTop;
    if (realMax <= 0 || scrollMax <= 0) return 0;
    if (realMax === scrollMax) return scrollTop;
    return Math.min(realMax, (scrollTop * realMax) / scrollMax);
  }

  private scrollTopFor(realTop: number): number {
    const realMax = this.source.rows.length * ROW_HEIGHT - this.viewHeight;
    const scrollMax = this.bodyHeight - this.viewHeight;
    if (realMax <= 0 || scrollMax <= 0) return 0;
    const clamped = Math.max(0, Math.min(realMax, realTop));
    return realMax === scrollMax ? clamped : (clamped * scrollMax) / realMax;
  }

  private layoutColumns(): void {
    const { columns, rows } = this.source;
    const sample = Math.min(rows.length, 50);
    this.widths = columns.map((column, c) => {
      let chars = Math.max(column.name.length, Math.min(column.type.length, 12)) + 2;
      for (let r = 0; r < sample; r++) chars = Math.max(chars, cellText(rows[r]![c]).length);
      return Math.max(columnWidth(chars), this.widths[c] ?? 0);
    });
    this.widthsSampledRows = sample;
    this.applyWidths();
    if (columns.length !== this.columnCount) {
      this.columnCount = columns.length;
      this.element.setAttribute('aria-colcount', String(columns.length));
      this.header.replaceChildren(
        ...columns.map((column, c) => {
          const cell = document.createElement('div');
          cell.className = 'grid-cell grid-colheader';
          cell.setAttribute('role', 'columnheader');
          cell.setAttribute('aria-colindex', String(c + 1));
          cell.title = `${column.name} (${column.type})`;
          cell.textContent = column.name;
          return cell;
        }),
      );
      for (const row of this.pool) this.fillCells(row);
      if (this.cursorCol >= columns.length) this.cursorCol = Math.max(0, columns.length - 1);
    } else {
      for (let c = 0; c < columns.length; c++) {
        const cell = this.header.children[c] as HTMLElement | undefined;
        if (cell && cell.textContent !== columns[c]!.name) cell.textContent = columns[c]!.name;
      }
    }
  }

  private applyWidths(): void {
    this.element.style.setProperty('--grid-columns', this.widths.map((w) => `${w}px`).join(' ') || '1fr');
    const total = this.widths.reduce((a, b) => a + b, 0);
    this.body.style.width = `${total}px`;
    this.header.style.width = `${total}px`;
  }

  private ensurePool(): void {
    const wanted = Math.ceil((this.gridHeight - HEADER_HEIGHT) / ROW_HEIGHT) + 1 + 2 * OVERSCAN;
    while (this.pool.length < wanted) {
      const element = document.createElement('div');
      element.className = 'grid-row';
      element.setAttribute('role', 'row');
      const row: PooledRow = { element, cells: [], texts: [], nulls: [], index: -1 };
      this.fillCells(row);
      this.layer.appendChild(element);
      this.pool.push(row);
    }
    while (this.pool.length > wanted) this.pool.pop()!.element.remove();
  }

  private fillCells(row: PooledRow): void {
    const count = Math.max(0, this.columnCount);
    while (row.cells.length < count) {
      const cell = document.createElement('div');
      cell.className = 'grid-cell';
      cell.setAttribute('role', 'gridcell');
      cell.setAttribute('aria-colindex', String(row.cells.length + 1));
      cell.dataset.col = String(row.cells.length);
      row.element.appendChild(cell);
      row.cells.push(cell);
      row.texts.push('');
      row.nulls.push(false);
    }
    while (row.cells.length > count) {
      row.cells.pop()!.remove();
      row.texts.pop();
      row.nulls.pop();
    }
    row.index = -1;
  }

  private renderRows(): void {
    const rows = this.source.rows;
    const realTop = this.realTop();
    const first = Math.max(0, Math.floor(realTop / ROW_HEIGHT) - OVERSCAN);
    // The layer sits where row `first` belongs relative to the scrolled viewport (scaled bodies included).
    const layerTop = this.element.scrollTop - (realTop - first * ROW_HEIGHT);
    this.layer.style.transform = `translateY(${layerTop}px)`;
    let cursorShown = false;
    let wider = false;
    for (let k = 0; k < this.pool.length; k++) {
      const pooled = this.pool[k]!;
      const index = first + k;
      if (index >= rows.length) {
        if (!pooled.element.hidden) pooled.element.hidden = true;
        pooled.index = -1;
        continue;
      }
      if (pooled.element.hidden) pooled.element.hidden = false;
      if (pooled.index !== index) {
        pooled.index = index;
        pooled.element.setAttribute('aria-rowindex', String(index + 2));
      }
      const data = rows[index]!;
      for (let c = 0; c < pooled.cells.length; c++) {
        const cell = pooled.cells[c]!;
        const value = data[c];
        const text = cellText(value);
        if (pooled.texts[c] !== text) {
          pooled.texts[c] = text;
          cell.textContent = text;
          // Columns widen (never narrow, so nothing jumps back) to fit values met further down.
          const wanted = columnWidth(text.length);
          if (wanted > (this.widths[c] ?? 0)) {
            this.widths[c] = wanted;
            wider = true;
          }
        }
        const isNull = value === null;
        if (pooled.nulls[c] !== isNull) {
          pooled.nulls[c] = isNull;
          cell.classList.toggle('null', isNull);
        }
        const isCursor = index === this.cursorRow && c === this.cursorCol;
        if (isCursor) {
          cursorShown = true;
          if (cell.id !== this.cursorId) {
            cell.id = this.cursorId;
            cell.classList.add('cursor');
            cell.setAttribute('aria-selected', 'true');
          }
        } else if (cell.id === this.cursorId) {
          cell.removeAttribute('id');
          cell.classList.remove('cursor');
          cell.removeAttribute('aria-selected');
        }
      }
    }
    if (wider) this.applyWidths();
    if (cursorShown) this.element.setAttribute('aria-activedescendant', this.cursorId);
    else this.element.removeAttribute('aria-activedescendant');
  }

  private onMouse(event: MouseEvent): void {
    const cell = (event.target as Element | null)?.closest?.('[role="gridcell"]');
    if (!cell) return;
    const pooled = this.pool.find((p) => p.element === cell.parentElement);
    if (!pooled || pooled.index < 0) return;
    this.moveCursor(pooled.index, Number((cell as HTMLElement).dataset.col ?? 0));
  }

  private onKey(event: KeyboardEvent): void {
    const rows = this.source.rows.length;
    const cols = this.source.columns.length;
    if (rows === 0 || cols === 0) return;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && (event.key === 'c' || event.key === 'C')) {
      event.preventDefault();
      if (this.cursorRow < 0) this.moveCursor(0, 0);
      const row = this.source.rows[this.cursorRow] ?? [];
      if (event.shiftKey) {
        const text = this.source.columns.map((_, c) => cellCopyText(row[c])).join('\t');
        this.options.onCopy(text, 'row');
      } else {
        this.options.onCopy(cellCopyText(row[this.cursorCol]), 'cell');
      }
      return;
    }
    const page = Math.max(1, Math.floor(this.viewHeight / ROW_HEIGHT) - 1);
    let row = Math.max(0, this.cursorRow);
    let col = this.cursorCol;
    switch (event.key) {
      case 'ArrowDown':
        row = this.cursorRow < 0 ? 0 : row + 1;
        break;
      case 'ArrowUp':
        row -= 1;
        break;
      case 'ArrowRight':
        col += 1;
        break;
      case 'ArrowLeft':
        col -= 1;
        break;
      case 'PageDown':
        row += page;
        break;
      case 'PageUp':
        row -= page;
        break;
      case 'Home':
        if (mod) row = 0;
        col = 0;
        break;
      case 'End':
        if (mod) row = rows - 1;
        col = cols - 1;
        break;
      default:
        return;
    }
    event.preventDefault();
    this.moveCursor(Math.max(0, Math.min(rows - 1, row)), Math.max(0, Math.min(cols - 1, col)));
  }

  private moveCursor(row: number, col: number): void {
    this.cursorRow = row;
    this.cursorCol = col;
    const realTop = this.realTop();
    const rowTop = row * ROW_HEIGHT;
    if (rowTop < realTop) this.element.scrollTop = this.scrollTopFor(rowTop);
    else if (rowTop + ROW_HEIGHT > realTop + this.viewHeight) this.element.scrollTop = this.scrollTopFor(rowTop + ROW_HEIGHT - this.viewHeight);
    let left = 0;
    for (let c = 0; c < col; c++) left += this.widths[c] ?? 0;
    const right = left + (this.widths[col] ?? 0);
    if (left < this.element.scrollLeft) this.element.scrollLeft = left;
    else if (right > this.element.scrollLeft + this.element.clientWidth) this.element.scrollLeft = right - this.element.clientWidth;
    this.renderRows();
  }
}
