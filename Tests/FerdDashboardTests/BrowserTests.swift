import FerdDashboard
import Foundation
import XCTest

/// The page in a real headless browser (Debian's chromium; `make test` installs it): what it shows, and that it
/// updates itself when the coordinator stores a new epoch. Chromium's virtual time does not advance while a fetch
/// is pending, so the page's long poll holds the DOM dump until the server answers it.
final class BrowserTests: DashboardTestCase {
    private var server: DashboardServer?

    override func tearDownWithError() throws {
        server?.stop()
        server = nil
        try super.tearDownWithError()
    }

    private func chromium() throws -> String {
        let candidates = [ProcessInfo.processInfo.environment["FERD_CHROMIUM"], "/usr/bin/chromium",
                          "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].compactMap { $0 }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("no chromium found (apt-get install -y chromium, or set FERD_CHROMIUM)")
        }
        return found
    }

    private func startServer(pollTimeout: Double) throws -> DashboardServer {
        let server = try DashboardServer(databasePath: databasePath,
                                         options: .init(bind: BindAddress(host: "127.0.0.1", port: 0),
                                                        pollTimeout: pollTimeout, watchInterval: 0.05),
                                         logger: logger)
        self.server = server
        Thread { server.run() }.start()
        return server
    }

    /// Starts chromium dumping the DOM of `url` once `budget` virtual milliseconds have passed.
    private func dumpDOM(_ url: String, budget: Int) throws -> (process: Process, output: Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try chromium())
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                             "--user-data-dir=\(directory.appendingPathComponent("chromium").path)",
                             "--virtual-time-budget=\(budget)", "--dump-dom", url]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        return (process, output)
    }

    /// Reads the dumped DOM (kills chromium after `timeout` seconds).
    private func finish(_ run: (process: Process, output: Pipe), timeout: Double = 90) -> String {
        let killer = DispatchWorkItem { [process = run.process] in if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let data = run.output.fileHandleForReading.readDataToEndOfFile()
        run.process.waitUntilExit()
        killer.cancel()
        return String(decoding: data, as: UTF8.self)
    }

    func testThePageShowsTheSweep() throws {
        let server = try startServer(pollTimeout: 0.5)
        let dom = finish(try dumpDOM("http://127.0.0.1:\(server.address.port)/", budget: 1_000))
        XCTAssertTrue(dom.contains("id=\"running-1\""), dom)
        XCTAssertTrue(dom.contains("<td class=\"right\">2/6</td>"), "the running trial's epoch k/n")
        XCTAssertTrue(dom.contains("dfew &lt;sweep&gt; &amp; co"), "the experiment, escaped")
        XCTAssertTrue(dom.contains("torch: 2× NVIDIA H200 &lt;cuda:0,1&gt;"), "the worker's devices")
        XCTAssertTrue(dom.contains("id=\"leaderboard\""), "the report's tables")
        XCTAssertTrue(dom.contains("class=\"connection live\""), "the script did not report a failure")
    }

    func testThePageUpdatesWhenANewEpochIsStored() throws {
        let server = try startServer(pollTimeout: 60)
        let browser = try dumpDOM("http://127.0.0.1:\(server.address.port)/", budget: 500)
        try waitUntil(seconds: 60) { server.pollsWaiting == 1 }
        let leaderboard = try writer()
        try storeEpoch(3, of: trials[0], in: leaderboard)
        let dom = finish(browser)
        XCTAssertTrue(dom.contains("<td class=\"right\">3/6</td>"), "the new epoch in the running table:\n\(dom)")
        XCTAssertFalse(dom.contains("<td class=\"right\">2/6</td>"))
        XCTAssertTrue(dom.contains("<td class=\"right\">30.00</td>"), "its UAR")
        XCTAssertTrue(dom.contains("<td class=\"right\">0.667</td>"), "its loss")
    }
}
