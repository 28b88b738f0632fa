import FerdLeaderboard
import Foundation

/// The page of `ferd dashboard`: the live status of the sweep (trial states, running trials with their epoch,
/// loss and UAR so far and their learning curves, workers and their devices) above the experiment's report, as
/// the HTML report renders it. Self-contained (inline CSS, SVG and script, no network); the script asks the
/// server for changes (`updates?version=V`, answered when the leaderboard changed) and swaps in the re-rendered
/// `fragment`.
public struct DashboardPage: Sendable {
    /// The header that carries a fragment's version, for the page's script.
    public static let versionHeader = "X-Ferd-Version"

    private let html = HTMLRenderer()

    public init() {}

    /// The whole page, with `snapshot`'s content and version.
    public func page(_ snapshot: DashboardSnapshot) -> String {
        let main = " id=\"live\" data-version=\"\(XMLText.escape(snapshot.version))\""
        return HTMLRenderer.document(title: "ferd dashboard — \(URL(fileURLWithPath: snapshot.databasePath).lastPathComponent)",
                                     body: fragment(snapshot), style: DashboardStyle.css, mainAttributes: main,
                                     script: DashboardScript.source)
    }

    /// What the page's `<main id="live">` holds for `snapshot`; the script replaces it with a newer one.
    public func fragment(_ snapshot: DashboardSnapshot) -> String {
        var body = header(snapshot)
        for state in snapshot.status.experiments {
            body += experimentCard(state, snapshot)
        }
        body += html.card(snapshot.status.workersTable(now: snapshot.time))
        if let dropped = snapshot.status.droppedTable(now: snapshot.time) { body += html.card(dropped) }
        if let report = snapshot.report {
            body += html.body(report)
        } else {
            body += "<section class=\"card\" id=\"report\"><h2>Report</h2><p class=\"note\">"
                + XMLText.escape(snapshot.reportProblem ?? "no report yet") + "</p></section>"
        }
        return body + "<footer>ferd dashboard, read-only, from \(XMLText.escape(snapshot.databasePath)). Metrics are "
            + "percentages; the page follows the leaderboard as the coordinator writes it.</footer>"
    }

    private func header(_ snapshot: DashboardSnapshot) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return "<header><h1>ferd dashboard <span id=\"connection\" class=\"connection live\">live</span></h1>"
            + "<p>\(XMLText.escape(snapshot.databasePath)) · as of <time>\(formatter.string(from: snapshot.time))</time>"
            + " · \(snapshot.status.experiments.count) experiment\(snapshot.status.experiments.count == 1 ? "" : "s")"
            + " · \(snapshot.status.workers.count) worker\(snapshot.status.workers.count == 1 ? "" : "s")</p></header>"
    }

    /// One experiment's trial counts, running trials (with their learning curves so far) and gang costs.
    private func experimentCard(_ state: ClusterStatus.ExperimentState, _ snapshot: DashboardSnapshot) -> String {
        let id = state.experiment.id
        var card = "<section class=\"card\" id=\"trials-\(id)\"><h2>Trials · #\(id) "
            + "<span class=\"experiment\">\(XMLText.escape(state.experiment.name))</span></h2><div class=\"kpis states\">"
        card += html.kpi("trials", "\(state.trials.count)")
        for kind in TrialState.allCases {
            card += html.kpi(kind.rawValue.lowercased(), "\(state.trials.filter { $0.state == kind }.count)")
        }
        let progress = state.progress
        if progress.epochsTotal > 0 {
            card += html.kpi("epochs", "\(progress.epochsDone)/\(progress.epochsTotal)")
        }
        if progress.running > 0, let seconds = progress.remainingSeconds {
            card += html.kpi("time left", Self.duration(seconds))
        }
        card += "</div>"
        let latest = ClusterStatus.latestEpochs(state.epochMetrics)
        for table in [ClusterStatus.runningTable(state, latest: latest), ClusterStatus.gangTable(state, latest: latest)] {
            guard let table else { continue }
            card += "<h3 id=\"\(table.id)\">\(XMLText.escape(table.title))</h3><div class=\"scroll\">\(html.render(table))"
                + "</div>\(html.notes(table))"
        }
        card += runningCurves(state, snapshot)
        return card + "</section>"
    }

    /// A rough duration: `45 s`, `12 min`, `3 h 05 min`.
    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total) s" }
        if total < 3600 { return "\(total / 60) min" }
        return "\(total / 3600) h " + String(format: "%02d min", total % 3600 / 60)
    }

    /// The learning curves of the experiment's running trials, when it is the reported one.
    private func runningCurves(_ state: ClusterStatus.ExperimentState, _ snapshot: DashboardSnapshot) -> String {
        guard let report = snapshot.report, report.experimentID == state.experiment.id else { return "" }
        let running = Set(state.trials.filter { $0.state == .running }.map(\.id))
        let curves = report.curves.filter { running.contains($0.trialID) }
        guard !curves.isEmpty else { return "" }
        return "<h3>Learning curves so far</h3><div class=\"charts\">"
            + curves.map { SVGLineChart(title: "trial \($0.trialID) · fold \($0.fold)", curve: $0).render() }.joined()
            + "</div>"
    }
}

/// The dashboard's additions to the report's style sheet.
enum DashboardStyle {
    static let css = """
    h3 { font-size: 14px; margin: 16px 0 8px; }
    .states .kpi { min-width: 96px; }
    .connection { font-size: 12px; font-weight: 600; vertical-align: middle; padding: 2px 8px; border-radius: 999px;
      margin-left: 8px; letter-spacing: 0.03em; }
    .connection.live { color: #166534; background: #dcfce7; }
    .connection.offline { color: #9a3412; background: #ffedd5; }
    """
}

/// The page's script: long-polls `updates?version=V` and swaps in `fragment` when the leaderboard changed,
/// keeping open learning-curve groups open; after a failure it says "offline" and retries. No `<` or `&`, so
/// the page stays XHTML-compatible.
enum DashboardScript {
    static let source = """
    (function () {
      "use strict";
      var live = document.getElementById("live");
      var version = live.getAttribute("data-version");
      function show(state) {
        var badge = document.getElementById("connection");
        if (badge) { badge.textContent = state; badge.className = "connection " + state; }
      }
      function groupName(details) {
        var summary = details.querySelector("summary");
        return summary ? summary.firstChild.textContent : "";
      }
      function replace(html) {
        var open = {};
        live.querySelectorAll("details").forEach(function (d) { open[groupName(d)] = d.open; });
        live.innerHTML = html;
        live.setAttribute("data-version", version);
        live.querySelectorAll("details").forEach(function (d) {
          var name = groupName(d);
          if (Object.prototype.hasOwnProperty.call(open, name)) { d.open = open[name]; }
        });
      }
      function poll() {
        fetch("updates?version=" + encodeURIComponent(version), { cache: "no-store" }).then(function (answer) {
          if (answer.status === 204) { setTimeout(poll, 250); return; }
          if (!answer.ok) { throw new Error("updates: HTTP " + answer.status); }
          return fetch("fragment", { cache: "no-store" }).then(function (fragment) {
            if (!fragment.ok) { throw new Error("fragment: HTTP " + fragment.status); }
            version = fragment.headers.get("\(DashboardPage.versionHeader)") || version;
            return fragment.text();
          }).then(function (html) {
            replace(html);
            show("live");
            setTimeout(poll, 1000);
          });
        }).catch(function () {
          show("offline");
          setTimeout(poll, 5000);
        });
      }
      poll();
    })();
    """
}
