/// The leaderboard schema as an ordered list of migrations; migration `n` (0-based) brings
/// `PRAGMA user_version` from `n` to `n + 1`. Append new migrations; never edit a released one.
enum Schema {
    static let migrations: [String] = [
        """
        CREATE TABLE experiments (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            content_hash TEXT NOT NULL UNIQUE,
            config TEXT NOT NULL,
            created REAL NOT NULL
        );
        CREATE TABLE grid_points (
            id INTEGER PRIMARY KEY,
            experiment INTEGER NOT NULL REFERENCES experiments(id),
            params TEXT NOT NULL,
            UNIQUE (experiment, params)
        );
        CREATE TABLE trials (
            id INTEGER PRIMARY KEY,
            experiment INTEGER NOT NULL REFERENCES experiments(id),
            grid_point INTEGER NOT NULL REFERENCES grid_points(id),
            fold INTEGER NOT NULL,
            seed INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('QUEUED', 'RUNNING', 'LOST', 'FAILED', 'DONE')),
            attempts INTEGER NOT NULL DEFAULT 0,
            worker TEXT,
            updated REAL NOT NULL,
            UNIQUE (grid_point, fold, seed)
        );
        CREATE INDEX trials_by_experiment_state ON trials (experiment, state);
        CREATE TABLE epoch_metrics (
            trial INTEGER NOT NULL REFERENCES trials(id),
            attempt INTEGER NOT NULL,
            epoch INTEGER NOT NULL,
            train_loss REAL NOT NULL,
            uar REAL NOT NULL,
            war REAL NOT NULL,
            lr REAL NOT NULL,
            seconds REAL NOT NULL,
            confusion TEXT,
            UNIQUE (trial, attempt, epoch)
        );
        CREATE TABLE results (
            trial INTEGER NOT NULL UNIQUE REFERENCES trials(id),
            attempt INTEGER NOT NULL,
            best_epoch INTEGER NOT NULL,
            uar REAL NOT NULL,
            war REAL NOT NULL,
            per_class_recall TEXT NOT NULL,
            confusion TEXT NOT NULL,
            checkpoint_path TEXT,
            digest TEXT NOT NULL
        );
        CREATE TABLE workers (
            id TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            cores INTEGER NOT NULL,
            backend TEXT NOT NULL,
            slots INTEGER NOT NULL,
            last_heartbeat REAL NOT NULL
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            kind TEXT NOT NULL,
            text TEXT NOT NULL
        );
        """,
        // 2: resume checkpoints, data-parallel gangs and their per-epoch costs.
        """
        ALTER TABLE trials ADD COLUMN resume_epoch INTEGER;
        ALTER TABLE trials ADD COLUMN resume_size INTEGER;
        ALTER TABLE trials ADD COLUMN resume_sha256 TEXT;
        ALTER TABLE trials ADD COLUMN resume_path TEXT;
        ALTER TABLE trials ADD COLUMN gang_size INTEGER;
        ALTER TABLE trials ADD COLUMN lr_scale REAL;
        ALTER TABLE epoch_metrics ADD COLUMN gang_members INTEGER;
        ALTER TABLE epoch_metrics ADD COLUMN step_seconds REAL;
        ALTER TABLE epoch_metrics ADD COLUMN communication_seconds REAL;
        ALTER TABLE epoch_metrics ADD COLUMN bytes_per_step REAL;
        """,
        // 3: messages dropped by an endpoint (the coordinator, the gradient hub), by peer and kind; a worker's total.
        """
        CREATE TABLE dropped_messages (
            endpoint TEXT NOT NULL,
            peer TEXT NOT NULL,
            kind TEXT NOT NULL,
            address TEXT,
            count INTEGER NOT NULL,
            last_time REAL NOT NULL,
            PRIMARY KEY (endpoint, peer, kind)
        );
        ALTER TABLE workers ADD COLUMN dropped_messages INTEGER NOT NULL DEFAULT 0;
        """,
        // 4: early stopping: the state STOPPED (the state's CHECK changes, so the table is rebuilt; the migrator runs
        // with foreign keys off and checks them afterwards) and the epoch and reason a trial's point was stopped.
        """
        CREATE TABLE trials_rebuilt (
            id INTEGER PRIMARY KEY,
            experiment INTEGER NOT NULL REFERENCES experiments(id),
            grid_point INTEGER NOT NULL REFERENCES grid_points(id),
            fold INTEGER NOT NULL,
            seed INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('QUEUED', 'RUNNING', 'LOST', 'FAILED', 'DONE', 'STOPPED')),
            attempts INTEGER NOT NULL DEFAULT 0,
            worker TEXT,
            updated REAL NOT NULL,
            resume_epoch INTEGER,
            resume_size INTEGER,
            resume_sha256 TEXT,
            resume_path TEXT,
            gang_size INTEGER,
            lr_scale REAL,
            stop_epoch INTEGER,
            stop_reason TEXT,
            UNIQUE (grid_point, fold, seed)
        );
        INSERT INTO trials_rebuilt (id, experiment, grid_point, fold, seed, state, attempts, worker, updated, resume_epoch,
                                    resume_size, resume_sha256, resume_path, gang_size, lr_scale)
            SELECT id, experiment, grid_point, fold, seed, state, attempts, worker, updated, resume_epoch, resume_size,
                   resume_sha256, resume_path, gang_size, lr_scale FROM trials;
        DROP TABLE trials;
        ALTER TABLE trials_rebuilt RENAME TO trials;
        CREATE INDEX trials_by_experiment_state ON trials (experiment, state);
        """,
        // 5: a gang trial waiting out its back-off: until when and why.
        """
        ALTER TABLE trials ADD COLUMN retry_after REAL;
        ALTER TABLE trials ADD COLUMN retry_reason TEXT;
        """,
        // 6: SCN's relabelling per epoch (RelabelCounts as JSON; NULL for other methods).
        """
        ALTER TABLE epoch_metrics ADD COLUMN relabels TEXT;
        """,
    ]
}
