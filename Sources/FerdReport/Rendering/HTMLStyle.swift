/// The report page's inline style sheet (no external fonts or files).
enum HTMLStyle {
    static let css = """
    :root { --ink: #1f2933; --muted: #5f6b7a; --line: #dde3ea; --soft: #f6f8fa; --accent: #1d4ed8; }
    * { box-sizing: border-box; }
    body { margin: 0; background: var(--soft); color: var(--ink);
      font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
    main { max-width: 1140px; margin: 0 auto; padding: 28px 32px 48px; }
    header h1 { font-size: 25px; margin: 0; letter-spacing: -0.01em; }
    header .experiment { color: var(--accent); }
    header p { margin: 4px 0 0; color: var(--muted); }
    .kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 18px 0 4px; }
    .kpi { background: #ffffff; border: 1px solid var(--line); border-radius: 10px; padding: 10px 16px; min-width: 150px; }
    .kpi .label { font-size: 11.5px; text-transform: uppercase; letter-spacing: 0.05em; color: var(--muted); }
    .kpi .value { font-size: 20px; font-weight: 650; font-variant-numeric: tabular-nums; }
    .kpi .value small { font-size: 13px; font-weight: 500; color: var(--muted); }
    .kpi.wide { flex: 1 1 320px; }
    .kpi.wide .value { font-size: 15px; font-weight: 600; }
    section.card { background: #ffffff; border: 1px solid var(--line); border-radius: 12px; padding: 18px 22px 16px;
      margin: 18px 0; box-shadow: 0 1px 2px rgba(16, 24, 40, 0.04); }
    section.card h2 { font-size: 16.5px; margin: 0 0 12px; }
    .scroll { overflow-x: auto; }
    table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
    th, td { padding: 5px 10px; text-align: right; white-space: nowrap; border-bottom: 1px solid #eef1f4; }
    th { font-size: 12px; font-weight: 600; color: var(--muted); border-bottom: 2px solid var(--line); }
    th.left, td.left { text-align: left; }
    tbody tr:hover td { background: #f8fafc; }
    tr.rule td { border-top: 2px solid var(--line); }
    tr.muted td { color: var(--muted); font-style: italic; }
    td strong { color: var(--accent); }
    td.empty { text-align: left; color: var(--muted); font-style: italic; padding: 12px 10px; }
    p.note { color: var(--muted); font-size: 12.5px; margin: 10px 0 0; max-width: 980px; }
    p.protocol { border-left: 3px solid #c7d2fe; padding-left: 10px; }
    .row { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
    .row .grow { flex: 1 1 380px; min-width: 0; }
    .legend { display: flex; gap: 18px; font-size: 12.5px; color: var(--muted); margin: 0 0 10px; }
    .legend i { display: inline-block; width: 18px; height: 0; border-top: 2.5px solid; vertical-align: middle; margin-right: 6px; }
    .legend i.dashed { border-top-style: dashed; }
    .charts { display: flex; flex-wrap: wrap; gap: 10px; }
    .chart { background: #ffffff; border: 1px solid #eef1f4; border-radius: 8px; }
    details { margin: 8px 0; }
    summary { cursor: pointer; font-weight: 600; padding: 4px 0; }
    summary .muted { color: var(--muted); font-weight: 400; }
    svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
    svg .tick { font-size: 10.5px; fill: #5f6b7a; }
    svg .tick.loss { fill: #94a3b8; }
    svg .axis { font-size: 11px; fill: #5f6b7a; }
    svg .chart-title { font-size: 12px; font-weight: 600; fill: #1f2933; }
    svg .grid { stroke: #edf0f3; stroke-width: 1; }
    svg .selected { stroke: #16a34a; stroke-width: 1.2; stroke-dasharray: 3 3; }
    svg .cell { font-size: 12.5px; font-weight: 600; }
    svg .cell-detail { font-size: 10px; }
    .warnings { color: #9a3412; }
    footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
    """
}
