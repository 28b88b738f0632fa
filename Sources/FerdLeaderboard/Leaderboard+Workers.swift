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
        let rows = try database.query("""
            SELECT id, host, cores, backend, slots, last_heartbeat, dropped_messages FROM workers ORDER BY id
            """)
        return try rows.map { row in
            WorkerRecord(id: try columns.text(row, 0, "id"), host: try columns.text(row, 1, "host"),
                         cores: try columns.int(row, 2, "cores"), backend: try columns.text(row, 3, "backend"),
                         slots: try columns.int(row, 4, "slots"),
                         lastHeartbeat: try columns.date(row, 5, "last_heartbeat"),
                         droppedMessages: try columns.int(row, 6, "dropped_messages"))
        }
    }

    /// Adds dropped-message counts (each since the previous call of the endpoint) to the totals by endpoint,
    /// peer and kind, and to the totals of the workers among the peers.
    public func addDroppedMessages(_ records: [DroppedMessagesRecord]) throws {
        for record in records {
            try database.run("""
                INSERT INTO dropped_messages (endpoint, peer, kind, address, count, last_time)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                ON CONFLICT (endpoint, peer, kind) DO UPDATE SET count = count + excluded.count,
                    address = coalesce(excluded.address, address), last_time = excluded.last_time
                """, [.text(record.endpoint), .text(record.peer), .text(record.kind),
                      .optionalText(record.address), .int(record.count),
                      .real(record.lastTime.timeIntervalSince1970)], cached: true)
            try database.run("UPDATE workers SET dropped_messages = dropped_messages + ?1 WHERE id = ?2",
                             [.int(record.count), .text(record.peer)], cached: true)
        }
    }

    /// Every dropped-message total, the largest first.
    public func droppedMessages() throws -> [DroppedMessagesRecord] {
        let columns = decoder("dropped_messages")
        let rows = try database.query("""
            SELECT endpoint, peer, kind, address, count, last_time FROM dropped_messages
            ORDER BY count DESC, endpoint, peer, kind
            """)
        return try rows.map { row in
            DroppedMessagesRecord(endpoint: try columns.text(row, 0, "endpoint"), peer: try columns.text(row, 1, "peer"),
                                  kind: try columns.text(row, 2, "kind"), address: row.text(3),
                                  count: try columns.int(row, 4, "count"), lastTime: try columns.date(row, 5, "last_time"))
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
