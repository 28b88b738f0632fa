import ArgumentParser
import FerdDashboard
import FerdLeaderboard
import FerdReport
import Foundation
import Logging

/// `ferd dashboard`: a live, read-only web page of a leaderboard while a sweep runs.
struct DashboardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve a live web page of a leaderboard: trial states, running trials, learning curves, tables, workers.",
        discussion: """
            The page is the HTML report under the sweep's live status (trial counts, running trials with their \
            epoch, loss and UAR so far, their learning curves, workers and their devices); it updates itself when \
            the coordinator stores something. Self-contained (no network), read-only (the database is opened \
            read-only; only GET and HEAD), on 127.0.0.1 unless --public. See docs/DASHBOARD.md.
            """
    )

    @OptionGroup var database: DatabaseOption

    @Option(help: "HOST:PORT to listen on; port 0 picks a free port. A non-loopback address needs --public.")
    var bind: String = "127.0.0.1:8080"

    @Flag(name: .customLong("public"),
          help: "Allow a non-loopback --bind. The page has no authentication: anyone who reaches it reads the leaderboard.")
    var allowPublic = false

    @Option(help: "The reported experiment's name or id (default: the newest).")
    var experiment: String?

    @Option(help: "Which epoch scores a fold: best-epoch or last-epoch.")
    var select: EpochSelection = .bestEpoch

    @Option(help: "The metric that picks the best epoch: war (as the reference code) or uar.")
    var bestBy: ReportMetric = .war

    @Option(help: "Order grid points by uar or war.")
    var sort: ReportMetric = .uar

    init() {}

    func run() throws {
        LogSetup.bootstrap(default: .info)
        guard FileManager.default.fileExists(atPath: database.db) else {
            throw CommandError("no database at \(database.db); give the coordinator's --db (the dashboard never creates one)")
        }
        let options: DashboardServer.Options
        let server: DashboardServer
        do {
            options = DashboardServer.Options(bind: try BindAddress(parsing: bind), allowPublic: allowPublic,
                                              experiment: experiment,
                                              report: ReportOptions(selection: select, bestEpochMetric: bestBy, sortMetric: sort))
            server = try DashboardServer(databasePath: database.db, options: options, logger: Logger(label: "ferd.dashboard"))
        } catch let error as DashboardError {
            throw CommandError(error.description)
        } catch let error as LeaderboardError {
            throw CommandError(error.description)
        }
        let trap = SignalTrap(firstMessage: "stopping the dashboard") { server.stop() }
        FileHandle.standardOutput.write(Data("ferd dashboard: http://\(server.address)/ (read-only, \(database.db)); Ctrl-C stops it\n".utf8))
        server.run()
        _ = trap
    }
}
