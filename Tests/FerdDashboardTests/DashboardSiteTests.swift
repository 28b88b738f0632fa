import FerdDashboard
import FerdLeaderboard
import FerdReport
import Foundation
import XCTest

/// The pure core: routes, methods, long-poll decisions, the page's content and its escaping; no sockets.
final class DashboardSiteTests: DashboardTestCase {
    private let site = DashboardSite()

    private func get(_ path: String, query: [String: String] = [:], method: String = "GET",
                     host: String? = "127.0.0.1:8080") -> HTTPRequest {
        HTTPRequest(method: method, path: path, query: query, host: host)
    }

    private func response(_ request: HTTPRequest, _ snapshot: DashboardSnapshot) throws -> HTTPResponse {
        guard case let .respond(response) = site.respond(to: site.route(request), head: request.method == "HEAD",
                                                         snapshot: snapshot) else {
            throw XCTSkip("expected an immediate response to \(request)")
        }
        return response
    }

    func testRoutes() {
        XCTAssertEqual(site.route(get("/")), .page)
        XCTAssertEqual(site.route(get("/index.html")), .page)
        XCTAssertEqual(site.route(get("/fragment")), .fragment)
        XCTAssertEqual(site.route(get("/updates", query: ["version": "a-7"])), .updates(since: "a-7"))
        XCTAssertEqual(site.route(get("/", method: "HEAD")), .page)
    }

    func testUnknownPathsAre404AndSayWhatExists() {
        guard case let .rejected(response) = site.route(get("/admin")) else { return XCTFail("not rejected") }
        XCTAssertEqual(response.status, 404)
        XCTAssertTrue(response.text.contains("/admin"), response.text)
        XCTAssertTrue(response.text.contains("/updates?version=V"), response.text)
    }

    func testOnlyGetAndHeadAreAllowed() {
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            guard case let .rejected(response) = site.route(get("/", method: method)) else {
                return XCTFail("\(method) not rejected")
            }
            XCTAssertEqual(response.status, 405, method)
            XCTAssertEqual(response.header("Allow"), "GET, HEAD")
            XCTAssertTrue(response.text.contains("read-only"), response.text)
        }
    }

    func testUpdatesWithoutAVersionIsABadRequest() {
        guard case let .rejected(response) = site.route(get("/updates")) else { return XCTFail("not rejected") }
        XCTAssertEqual(response.status, 400)
        XCTAssertTrue(response.text.contains("/updates?version="), response.text)
    }

    func testALoopbackDashboardRefusesOtherHostNames() {
        for host in ["127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:8080", "127.1.2.3"] {
            XCTAssertEqual(site.route(get("/", host: host)), .page, host)
        }
        for host in ["evil.example:8080", "192.168.1.4", "[fe80::1]:80", "127.0.0.1.evil.example"] {
            guard case let .rejected(response) = site.route(get("/", host: host)) else { return XCTFail("\(host) served") }
            XCTAssertEqual(response.status, 403, host)
            XCTAssertTrue(response.text.contains("--public"))
        }
        XCTAssertEqual(DashboardSite(hostPolicy: .any).route(get("/", host: "dashboard.lab.example")), .page)
    }

    func testAnUpdateIsAnsweredWhenTheVersionDiffersAndHeldWhileItDoesNot() throws {
        let snapshot = try snapshot(version: "x-2")
        XCTAssertEqual(site.respond(to: .updates(since: "x-2"), snapshot: snapshot), .waitForChange(since: "x-2"))
        let changed = try response(get("/updates", query: ["version": "x-1"]), snapshot)
        XCTAssertEqual(changed.status, 200)
        XCTAssertEqual(changed.text, "x-2\n")
        XCTAssertEqual(try response(get("/updates", query: ["version": "x-2"], method: "HEAD"), snapshot).status, 204,
                       "HEAD is never held")
        XCTAssertEqual(site.noChange().status, 204)
        XCTAssertEqual(site.noChange().header("Cache-Control"), "no-store")
    }

    func testThePageIsSelfContainedAndCarriesItsVersion() throws {
        let page = try response(get("/"), try snapshot(version: "x-9"))
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.header("Content-Type"), "text/html; charset=utf-8")
        XCTAssertTrue(page.header("Content-Security-Policy")?.contains("default-src 'none'") ?? false)
        XCTAssertEqual(page.header("Cache-Control"), "no-store")
        let html = page.text
        XCTAssertTrue(html.contains("<main id=\"live\" data-version=\"x-9\">"), html)
        XCTAssertTrue(html.contains("<script>") && html.contains("updates?version="))
        for external in ["src=\"http", "href=\"http", "url(http", "@import", "https://", "<link"] {
            XCTAssertFalse(html.contains(external), "the page refers to something outside: \(external)")
        }
        let script = html.components(separatedBy: "<script>")[1].components(separatedBy: "</script>")[0]
        XCTAssertFalse(script.contains("<") || script.contains("&"), "the script keeps the page XHTML-compatible")
    }

    func testTheFragmentShowsTheSweepAndItsVersion() throws {
        let fragment = try response(get("/fragment"), try snapshot(version: "x-3"))
        XCTAssertEqual(fragment.header(DashboardPage.versionHeader), "x-3")
        let html = fragment.text
        XCTAssertFalse(html.contains("<html"), "a fragment, not a page")
        XCTAssertTrue(html.contains("id=\"running-1\""), "the running table")
        XCTAssertTrue(html.contains("<td class=\"right\">2/6</td>"), "epoch k/n of the running trial")
        XCTAssertTrue(html.contains("<td class=\"right\">1.000</td>"), "its loss")
        XCTAssertTrue(html.contains("<td class=\"right\">20.00</td>"), "its UAR so far")
        XCTAssertTrue(html.contains("Learning curves so far"), "the running trial's curve")
        XCTAssertTrue(html.contains("<div class=\"label\">epochs</div><div class=\"value\">8/24</div>"),
                      "epochs done of planned: 6 of the DONE trial, 2 of the running one")
        XCTAssertTrue(html.contains("<div class=\"label\">time left</div><div class=\"value\">8 min</div>"),
                      "16 epochs left at 30 s each, one trial running")
        XCTAssertTrue(html.contains("id=\"workers\""), "the workers")
        XCTAssertTrue(html.contains("id=\"leaderboard\"") && html.contains("id=\"curves\""), "the report's cards")
    }

    func testNamesFromTheLeaderboardAreEscaped() throws {
        let html = try response(get("/"), try snapshot()).text
        XCTAssertFalse(html.contains(Self.experimentName))
        XCTAssertTrue(html.contains("dfew &lt;sweep&gt; &amp; co"))
        XCTAssertFalse(html.contains("<cuda:0,1>"))
        XCTAssertTrue(html.contains("torch: 2× NVIDIA H200 &lt;cuda:0,1&gt;"))
        XCTAssertEqual(site.respond(to: .page, snapshot: try snapshot(version: "\"><script>")).html?
            .contains("data-version=\"&quot;&gt;&lt;script&gt;\""), true)
    }

    func testHeadHasTheHeadersButNoBody() throws {
        let snapshot = try snapshot()
        let head = try response(get("/", method: "HEAD"), snapshot)
        let bytes = String(decoding: head.bytes(forHead: true), as: UTF8.self)
        XCTAssertTrue(bytes.hasPrefix("HTTP/1.1 200 OK\r\n"))
        XCTAssertTrue(bytes.contains("Content-Length: \(head.body.count)\r\n"))
        XCTAssertTrue(bytes.hasSuffix("Connection: close\r\n\r\n"))
    }

    func testAnEmptyLeaderboardSaysWhatToDo() throws {
        try FileManager.default.removeItem(atPath: databasePath)
        _ = try writer()
        let html = try response(get("/fragment"), try snapshot()).text
        XCTAssertTrue(html.contains("holds no experiment yet"), html)
        XCTAssertTrue(html.contains("no worker has connected yet"), html)
    }
}

private extension DashboardSite.Outcome {
    var html: String? {
        if case let .respond(response) = self { return response.text }
        return nil
    }
}
