-- etc/schema.sql: mppd's MariaDB schema (quarantine, archive, message tracking).
--
-- Load it with `mppctl db upgrade` (mppd applies the versions the database lacks, in order,
-- and prints the version reached), or by hand on an empty database:
--     mariadb mpp < schema.sql
-- The file is a list of versions. Each starts with a line "-- version: N" and ends by recording
-- itself in schema_version; every statement of a version can run twice (IF NOT EXISTS,
-- INSERT IGNORE), so an upgrade interrupted half-way is simply run again. A later change is a
-- new version appended at the end; a released version is never edited.
--
-- Design (no joins for the common queries):
--   entry       one row per quarantined or archived message: the envelope, the client, the
--               groups, checks, score and verdict that decided it, and the configuration
--               revision in force. Found by uuid for show, release and delete.
--   entry_rcpt  one row per message and recipient, carrying copies of what a listing shows
--               (date, sender, subject, size, score): "a domain's or a user's quarantine by
--               date" and "search by sender, subject, date range" read this table only.
--   entry_body  the message bytes in chunks of at most 512 KiB (no max_allowed_packet
--               surprise, bounded memory on both sides); read only for show and release.
--   tracking    one compact row per message mppd decided on (message tracking).
-- Text from mail (addresses, subject, Message-ID, HELO) is stored as VARBINARY: the bytes
-- round-trip exactly, invalid UTF-8 and NUL included. The *_key and *_domain columns are the
-- lookup forms: ASCII letters lower-cased, cut to 255 bytes; queries lower-case their input the
-- same way. Times are DATETIME in UTC (mppd sets its session time zone to +00:00).
-- Idempotency: uuid is UNIQUE in entry and tracking; mppd inserts with
-- ON DUPLICATE KEY UPDATE, so a record written twice is stored once.

-- version: 1
CREATE TABLE IF NOT EXISTS schema_version (
    version INT UNSIGNED NOT NULL PRIMARY KEY,
    description VARCHAR(200) NOT NULL,
    applied TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS entry (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind ENUM('quarantine', 'archive') NOT NULL,
    received DATETIME NOT NULL,
    stored DATETIME NOT NULL,
    queue_id VARBINARY(64) NOT NULL,
    message_id VARBINARY(998) NOT NULL,
    subject VARBINARY(998) NOT NULL,
    client_ip VARCHAR(45) CHARACTER SET ascii NOT NULL,
    client_name VARBINARY(255) NOT NULL,
    helo VARBINARY(255) NOT NULL,
    sender VARBINARY(2048) NOT NULL,
    sender_key VARBINARY(255) NOT NULL,
    rcpt_count INT UNSIGNED NOT NULL,
    size BIGINT UNSIGNED NOT NULL,
    body_size BIGINT UNSIGNED NOT NULL DEFAULT 0,
    body_chunks INT UNSIGNED NOT NULL DEFAULT 0,
    score DOUBLE NOT NULL,
    checks VARBINARY(4096) NOT NULL,
    verdict VARCHAR(32) CHARACTER SET ascii NOT NULL,
    reason VARBINARY(1024) NOT NULL,
    policy_groups VARBINARY(1024) NOT NULL,
    config_revision VARCHAR(64) CHARACTER SET ascii NOT NULL,
    UNIQUE KEY entry_uuid (uuid),
    KEY entry_kind_received (kind, received),
    KEY entry_queue_id (queue_id),
    KEY entry_message_id (message_id(100))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS entry_rcpt (
    entry_id BIGINT UNSIGNED NOT NULL,
    seq SMALLINT UNSIGNED NOT NULL,
    uuid CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind ENUM('quarantine', 'archive') NOT NULL,
    received DATETIME NOT NULL,
    rcpt VARBINARY(2048) NOT NULL,
    rcpt_key VARBINARY(255) NOT NULL,
    rcpt_domain VARBINARY(255) NOT NULL,
    rcpt_group VARBINARY(255) NOT NULL,
    sender VARBINARY(2048) NOT NULL,
    sender_key VARBINARY(255) NOT NULL,
    subject VARBINARY(998) NOT NULL,
    size BIGINT UNSIGNED NOT NULL,
    score DOUBLE NOT NULL,
    verdict VARCHAR(32) CHARACTER SET ascii NOT NULL,
    released DATETIME NULL,
    PRIMARY KEY (entry_id, seq),
    KEY rcpt_domain_received (kind, rcpt_domain, received),
    KEY rcpt_key_received (kind, rcpt_key, received),
    KEY rcpt_sender_received (kind, sender_key, received),
    KEY rcpt_received (kind, received)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS entry_body (
    entry_id BIGINT UNSIGNED NOT NULL,
    seq INT UNSIGNED NOT NULL,
    data MEDIUMBLOB NOT NULL,
    PRIMARY KEY (entry_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS tracking (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    uuid CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    received DATETIME NOT NULL,
    queue_id VARBINARY(64) NOT NULL,
    message_id VARBINARY(998) NOT NULL,
    client_ip VARCHAR(45) CHARACTER SET ascii NOT NULL,
    client_name VARBINARY(255) NOT NULL,
    helo VARBINARY(255) NOT NULL,
    sender VARBINARY(2048) NOT NULL,
    sender_key VARBINARY(255) NOT NULL,
    rcpt_count INT UNSIGNED NOT NULL,
    size BIGINT UNSIGNED NOT NULL,
    score DOUBLE NOT NULL,
    scores VARBINARY(1024) NOT NULL,
    rbl_hits VARBINARY(1024) NOT NULL,
    checks VARBINARY(4096) NOT NULL,
    verdict VARCHAR(32) CHARACTER SET ascii NOT NULL,
    parse_result VARCHAR(64) CHARACTER SET ascii NOT NULL,
    timings VARBINARY(512) NOT NULL,
    elapsed_ms INT UNSIGNED NOT NULL,
    policy_groups VARBINARY(1024) NOT NULL,
    config_revision VARCHAR(64) CHARACTER SET ascii NOT NULL,
    UNIQUE KEY tracking_uuid (uuid),
    KEY tracking_received (received),
    KEY tracking_queue_id (queue_id),
    KEY tracking_message_id (message_id(100)),
    KEY tracking_sender_received (sender_key, received),
    KEY tracking_client_received (client_ip, received)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT IGNORE INTO schema_version (version, description)
    VALUES (1, 'quarantine and archive entries, recipients, bodies; message tracking');
