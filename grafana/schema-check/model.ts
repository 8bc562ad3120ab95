// The dashboard model our provisioned JSON is checked against: Grafana's own, from @grafana/schema
// (pinned to the Grafana image in compose.yaml), adjusted only where Grafana's JSON and its
// TypeScript types differ. check.mjs writes each dashboard as `(<json>) satisfies ProvisionedDashboard`,
// so every object literal gets TypeScript's excess-property check: an unknown or misspelt key, a value
// of the wrong type or an enum value Grafana does not have is an error. README.md lists what it misses.
import type * as schema from '@grafana/schema';
import type * as barchart from '@grafana/schema/dist/esm/raw/composable/barchart/panelcfg/x/BarChartPanelCfg_types.gen';
import type * as bargauge from '@grafana/schema/dist/esm/raw/composable/bargauge/panelcfg/x/BarGaugePanelCfg_types.gen';
import type * as gauge from '@grafana/schema/dist/esm/raw/composable/gauge/panelcfg/x/GaugePanelCfg_types.gen';
import type * as heatmap from '@grafana/schema/dist/esm/raw/composable/heatmap/panelcfg/x/HeatmapPanelCfg_types.gen';
import type * as histogram from '@grafana/schema/dist/esm/raw/composable/histogram/panelcfg/x/HistogramPanelCfg_types.gen';
import type * as piechart from '@grafana/schema/dist/esm/raw/composable/piechart/panelcfg/x/PieChartPanelCfg_types.gen';
import type * as stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as statetimeline from '@grafana/schema/dist/esm/raw/composable/statetimeline/panelcfg/x/StateTimelinePanelCfg_types.gen';
import type * as statushistory from '@grafana/schema/dist/esm/raw/composable/statushistory/panelcfg/x/StatusHistoryPanelCfg_types.gen';
import type * as table from '@grafana/schema/dist/esm/raw/composable/table/panelcfg/x/TablePanelCfg_types.gen';
import type * as text from '@grafana/schema/dist/esm/raw/composable/text/panelcfg/x/TextPanelCfg_types.gen';
import type * as timeseries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

// The JSON form of a schema type. Grafana's JSON holds a string enum's values ("list"), which
// TypeScript does not accept for the enum type itself, so string enums become the union of their
// values (`${E}`); numeric enums already accept their number literals. Every field becomes optional
// because Grafana fills a default for what a file leaves out (the package marks as required what
// Grafana writes when it saves); Required<> below puts back the few that have no default.
type Json<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends ReadonlyArray<infer E>
      ? Array<Json<E>>
      : T extends object
        ? { [K in keyof T]?: Json<T[K]> }
        : T;

// A Graphite query as Grafana's Graphite datasource stores it. @grafana/schema 11.3 has no type for it
// (it has Grafana's shared DataQuery fields only); these are the datasource's own fields in 11.3.
interface GraphiteQuery extends schema.DataQuery {
  target?: string;
  targetFull?: string;
  textEditor?: boolean;
  tags?: string[];
  fromAnnotations?: boolean;
}

type FieldConfigSource<Custom> = Json<Omit<schema.FieldConfigSource, 'defaults'>> & {
  defaults?: Json<Omit<schema.FieldConfig, 'custom'>> & { custom?: Json<Custom> };
};

// A panel of one plugin: the shared panel fields, that plugin's options and field config, Graphite queries.
type PanelOf<Type extends string, Options, Custom = Record<string, never>> = Json<
  Omit<schema.Panel, 'type' | 'options' | 'fieldConfig' | 'targets'>
> & {
  type: Type;
  id: number;
  gridPos: Json<schema.GridPos>;
  options?: Json<Options>;
  fieldConfig?: FieldConfigSource<Custom>;
  targets?: Array<Json<GraphiteQuery> & Required<Pick<GraphiteQuery, 'refId'>>>;
};

// Every panel plugin the pinned package has a model for (panel type id -> its options and field config).
// A type missing here (a plugin without a schema in the package) is refused rather than left unchecked.
type KnownPanel =
  | PanelOf<'barchart', barchart.Options, barchart.FieldConfig>
  | PanelOf<'bargauge', bargauge.Options>
  | PanelOf<'gauge', gauge.Options>
  | PanelOf<'heatmap', heatmap.Options, heatmap.FieldConfig>
  | PanelOf<'histogram', histogram.Options, histogram.FieldConfig>
  | PanelOf<'piechart', piechart.Options, piechart.FieldConfig>
  | PanelOf<'stat', stat.Options>
  | PanelOf<'state-timeline', statetimeline.Options, statetimeline.FieldConfig>
  | PanelOf<'status-history', statushistory.Options, statushistory.FieldConfig>
  | PanelOf<'table', table.Options, table.FieldConfig>
  | PanelOf<'text', text.Options>
  | PanelOf<'timeseries', timeseries.Options, timeseries.FieldConfig>;

type Row = Json<Omit<schema.RowPanel, 'panels' | 'type'>> & {
  type: 'row';
  id: number;
  gridPos: Json<schema.GridPos>;
  panels?: KnownPanel[]; // the panels folded inside a collapsed row
};

// Grafana writes `definition` (the query as text) on query variables; the 11.3 schema leaves it out.
// Our only datasource is Graphite, so a variable's query object is a Graphite query.
type Variable = Json<Omit<schema.VariableModel, 'query'>> & {
  name: string;
  type: Json<schema.VariableType>;
  definition?: string;
  query?: string | Json<GraphiteQuery>;
};

export type ProvisionedDashboard = Json<Omit<schema.Dashboard, 'panels' | 'templating'>> & {
  uid: string;
  title: string;
  schemaVersion: number;
  panels?: Array<KnownPanel | Row>;
  templating?: { list?: Variable[] };
};
