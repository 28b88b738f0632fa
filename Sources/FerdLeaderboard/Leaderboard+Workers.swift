import Foundation

extension Leaderboard {
    /// Inserts or replaces a worker's row (on HELLO).
    public func upsertWorker(_ worker: WorkerRecord) throws {
        try database.run("""
            INSERT INTO workers (id, host, cores, backend, slots, last_heartbeat) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            ON CONFLICT (id) DO UPDATE SET host = excluded.host, cores = excluded.cores, backend = excluded.backend,
                slots = excluded.slots, last_heartbeat = excluded.last_heartbeat
            """, [.text(worker.id), .text(worker.host), .int(worker.cores), .text(worker.backend), .int(worker.slots),
                  .real(worker.lastHeartbeat.timeIntervalSince1970)], cached: true)
    }

    /// Records when a worker was last heard from.
    public func recordHeartbeat(workerID: String, at time: Date) throws {
        try database.run("UPDATE workers SET last_heartbeat = ?1 WHERE id = ?2",
                         [.real(time.timeIntervalSince1970), .text(workerID)], cached: true)
    }

    /// Every worker ever registered, by id.
    public func workers() throws -> [WorkerRecord] {
        let columns = decoder("workers")
        let rows = try database.query("SELECT id, host, cores, backend, slots, last_heartbeat FROM workers ORDER BY id")
        return try rows.map { row in
            WorkerRecord(id: try columns.text(row, 0, "id"), host: try columns.text(row, 1, "host"),
                         cores: try columns.int(row, 2, "cores"), backend: try columns.text(row, 3, "backend"),
                         slots: try columns.int(row, 4, "slots"),
                         lastHeartbeat: try columns.date(row, 5, "last_heartbeat"))
        }
    }

    /// Appends a line to the event log.
    public func logEvent(kind: String, text: String, at time: Date) throws {
        try database.run("INSERT INTO events (time, kind, text) VALUES (?1, ?2, ?3)",
                         [.real(time.timeIntervalSince1970), .text(kind), .text(text)], cached: true)
    }

    /// The latest `limit` events, oldest first.
    public func recentEvents(limit: Int) throws -> [EventRecord] {
        let columns = decoder("events")
        let latest = "SELECT time, kind, text FROM (SELECT * FROM events ORDER BY id DESC LIMIT ?1) ORDER BY id"
        return try database.query(latest, [.int(limit)]).map { row in
            EventRecord(time: try columns.date(row, 0, "time"), kind: try columns.text(row, 1, "kind"),
                        text: try columns.text(row, 2, "text"))
        }
    }
}
