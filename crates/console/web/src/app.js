// The page of `minerva ui`: a catalog tree, a SQL editor (CodeMirror), results paged from the
// server, a chart of them (uPlot), history and saved queries. Everything comes from the API
// (see the crate's README); the token is the one in the page's URL.
import { EditorView, basicSetup } from "codemirror";
import { keymap } from "@codemirror/view";
import { Prec } from "@codemirror/state";
import { sql, StandardSQL } from "@codemirror/lang-sql";
import { completeFromList } from "@codemirror/autocomplete";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const token = new URLSearchParams(location.search).get("token") || "";
const PAGE = 500;

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "onclick") node.onclick = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
};

// The statement under the cursor: statements split at semicolons outside quotes and comments.
export function statementAt(text, cursor) {
  let start = 0;
  let quote = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (quote === "--" && c === "\n") quote = null;
      else if (quote === "/*" && c === "*" && text[i + 1] === "/") { quote = null; i++; }
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "-" && text[i + 1] === "-") quote = "--";
    else if (c === "/" && text[i + 1] === "*") quote = "/*";
    else if (c === ";") {
      if (cursor <= i) return text.slice(start, i).trim();
      start = i + 1;
    }
  }
  const last = text.slice(start).trim();
  if (last || start === 0) return last;
  // The cursor after the last semicolon: the statement before it.
  return statementAt(text.slice(0, start - 1), start - 1);
}

let editor;
let current = null; // { id, columns, rows, done }

function setStatus(text, kind = "") {
  const status = $("status");
  status.textContent = text;
  status.className = kind;
}

async function loadCatalog() {
  const { databases } = await api("GET", "/api/catalog");
  const tree = $("tree");
  tree.replaceChildren();
  const schema = {};
  for (const db of databases) {
    const dbNode = el("details", { open: "", "data-database": db.name }, el("summary", {}, db.name));
    for (const table of db.tables) {
      schema[table.name] = table.columns.map((c) => c.name);
      schema[`${db.name}.${table.name}`] = schema[table.name];
      const how = table.partitions ? ` · partitions by ${table.partitions}` : "";
      const summary = el("summary", { title: `${table.kind}${how}` }, `${table.name}`, el("span", { class: "kind" }, table.kind));
      const columns = el("ul");
      for (const c of table.columns) {
        columns.append(el("li", { class: c.partition ? "partition" : "" }, c.name, el("span", { class: "type" }, c.partition ? `${c.type} · partition` : c.type)));
      }
      if (table.error) columns.append(el("li", { class: "error" }, table.error));
      dbNode.append(el("details", { class: "table", "data-table": table.name }, summary, columns));
    }
    tree.append(dbNode);
  }
  return schema;
}

async function loadSaved() {
  const { queries } = await api("GET", "/api/saved");
  const list = $("saved");
  list.replaceChildren(...queries.map((q) => el("li", { title: q.sql, onclick: () => setText(q.sql) }, q.name)));
}

async function loadHistory() {
  const { entries } = await api("GET", "/api/history?limit=50");
  const list = $("history");
  list.replaceChildren(...entries.map((e) => el("li", { title: e.at, class: e.error ? "failed" : "", onclick: () => setText(e.sql) }, e.sql)));
}

function setText(text) {
  editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: text } });
  editor.focus();
}

async function run() {
  const text = editor.state.doc.toString();
  const statement = statementAt(text, editor.state.selection.main.head);
  if (!statement) return;
  if (current && !current.done) await cancel();
  setStatus("Running…", "running");
  $("cancel").disabled = false;
  try {
    const started = await api("POST", "/api/query", { sql: statement });
    current = { id: started.id, columns: started.columns, rows: [], done: false };
    renderTable();
    await more();
  } catch (e) {
    current = null;
    setStatus(e.message, "error");
    $("cancel").disabled = true;
  }
  loadHistory();
}

async function more() {
  if (!current || current.done) return;
  const query = current;
  try {
    const page = await api("GET", `/api/query/${query.id}/rows?max=${PAGE}`);
    if (query !== current) return;
    query.rows.push(...page.rows);
    query.done = page.done;
    appendRows(page.rows);
    if (page.done) {
      setStatus(page.status, "done");
      $("cancel").disabled = true;
    } else {
      setStatus(`${query.rows.length} rows so far…`, "running");
    }
    $("more").hidden = page.done;
    $("download").disabled = page.done;
    $("download-parquet").disabled = page.done;
    if ($("view").value === "chart") renderChart();
  } catch (e) {
    // A cancelled query's waiting page fails: the cancel already said so.
    if (query.cancelled) return;
    query.done = true;
    setStatus(e.message, "error");
    $("cancel").disabled = true;
  }
}

async function cancel() {
  if (!current || current.done) return;
  const query = current;
  query.done = true;
  query.cancelled = true;
  $("cancel").disabled = true;
  try {
    await api("DELETE", `/api/query/${query.id}`);
    setStatus("Cancelled", "error");
  } catch (e) {
    setStatus(e.message, "error");
  }
}

function renderTable() {
  const table = $("grid");
  const head = el("tr", {}, ...current.columns.map((c) => el("th", { title: c.type }, c.name)));
  table.replaceChildren(el("thead", {}, head), el("tbody"));
  $("more").hidden = true;
}

function appendRows(rows) {
  const body = $("grid").querySelector("tbody");
  // EXPLAIN's plans (and any text over several lines) keep their lines and indentation.
  const cls = (v) => (typeof v === "number" ? "num" : typeof v === "string" && v.includes("\n") ? "pre" : "");
  for (const row of rows) {
    body.append(el("tr", {}, ...row.map((v) => el("td", { class: cls(v) }, v === null ? "NULL" : String(v)))));
  }
}

// A chart of the rows so far: x is the first column (dates and timestamps draw lines, other
// values bars); with a text second column and a number third, one series per second-column
// value, stacked.
export function chartData(columns, rows) {
  const temporal = /date|timestamp/.test(columns[0].type);
  const numeric = (i) => rows.every((r) => r[i] === null || typeof r[i] === "number");
  const xs = [...new Set(rows.map((r) => r[0]))];
  if (!temporal) xs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const xIndex = new Map(xs.map((x, i) => [x, i]));
  const series = [];
  if (columns.length === 3 && !numeric(1) && numeric(2)) {
    const keys = [...new Set(rows.map((r) => String(r[1])))].sort();
    for (const key of keys) {
      const values = new Array(xs.length).fill(0);
      for (const r of rows) if (String(r[1]) === key) values[xIndex.get(r[0])] += r[2] || 0;
      series.push({ label: key, values });
    }
    for (let i = 1; i < series.length; i++) series[i].values = series[i].values.map((v, j) => v + series[i - 1].values[j]);
    series.reverse();
  } else {
    for (let c = 1; c < columns.length; c++) {
      if (!numeric(c)) continue;
      const values = new Array(xs.length).fill(null);
      for (const r of rows) values[xIndex.get(r[0])] = r[c];
      series.push({ label: columns[c].name, values });
    }
  }
  const x = temporal ? xs.map((v) => Date.parse(v) / 1000) : xs.map((_, i) => i);
  return { temporal, labels: xs.map(String), x, series };
}

let plot = null;
function renderChart() {
  const box = $("chart");
  if (plot) { plot.destroy(); plot = null; }
  box.replaceChildren();
  if (!current || current.rows.length === 0) return;
  const data = chartData(current.columns, current.rows);
  if (data.series.length === 0) {
    box.append(el("p", {}, "Nothing to chart: no column after the first holds numbers."));
    return;
  }
  const palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
  const bars = uPlot.paths.bars({ size: [0.7, 60] });
  plot = new uPlot({
    width: box.clientWidth || 800,
    height: 360,
    scales: { x: { time: data.temporal } },
    axes: [{ values: data.temporal ? undefined : (_, ticks) => ticks.map((t) => data.labels[t] ?? "") }, {}],
    series: [{}, ...data.series.map((s, i) => ({
      label: s.label,
      stroke: palette[i % palette.length],
      fill: data.temporal ? undefined : palette[i % palette.length],
      paths: data.temporal ? undefined : bars,
      width: data.temporal ? 2 : 1,
    }))],
  }, [data.x, ...data.series.map((s) => s.values)], box);
}

async function save() {
  const name = prompt("Save as (letters, digits, _ - .):");
  if (!name) return;
  try {
    await api("PUT", `/api/saved/${encodeURIComponent(name)}`, { sql: editor.state.doc.toString() });
    await loadSaved();
    setStatus(`Saved as ${name}`, "done");
  } catch (e) {
    setStatus(e.message, "error");
  }
}

function download(format) {
  if (!current || current.done) return;
  const query = current;
  query.done = true;
  location.href = `/api/query/${query.id}/${format}?token=${encodeURIComponent(token)}`;
  $("download").disabled = true;
  $("download-parquet").disabled = true;
  $("more").hidden = true;
}

async function main() {
  let schema = {};
  try {
    schema = await loadCatalog();
  } catch (e) {
    setStatus(e.message, "error");
  }
  let functions = [];
  try {
    functions = (await api("GET", "/api/functions")).functions;
  } catch (e) {
    setStatus(e.message, "error");
  }
  const language = sql({ dialect: StandardSQL, schema, upperCaseKeywords: true });
  const functionCompletion = language.language.data.of({
    autocomplete: completeFromList(functions.map((name) => ({ label: name, type: "function", apply: `${name}(` }))),
  });
  const runKey = Prec.highest(keymap.of([{ key: "Mod-Enter", run: () => { run(); return true; } }]));
  editor = new EditorView({
    doc: "SELECT region, count(*) AS views\nFROM views\nWHERE dt >= DATE '2024-01-01'\nGROUP BY region\nORDER BY views DESC;\n",
    extensions: [runKey, basicSetup, language, functionCompletion],
    parent: $("editor"),
  });
  $("run").onclick = run;
  $("cancel").onclick = cancel;
  $("more").onclick = more;
  $("save").onclick = save;
  $("download").onclick = () => download("csv");
  $("download-parquet").onclick = () => download("parquet");
  $("view").onchange = () => {
    const chart = $("view").value === "chart";
    $("chart").hidden = !chart;
    $("table").hidden = chart;
    if (chart) renderChart();
  };
  loadSaved().catch(() => {});
  loadHistory().catch(() => {});
  window.minerva = { editor, run, statementAt, chartData };
}

if (typeof document !== "undefined" && document.getElementById("editor")) main();
