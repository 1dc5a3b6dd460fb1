// Types for the one blessed-contrib widget the TUI loads by its own path (the package's index would
// bundle every widget: maps, pictures, markdown…). The shapes are blessed-contrib's own typings.
declare module 'blessed-contrib/lib/widget/charts/line' {
  import type { Widgets } from 'blessed-contrib';
  function line(options: Widgets.LineOptions): Widgets.LineElement;
  export = line;
}
