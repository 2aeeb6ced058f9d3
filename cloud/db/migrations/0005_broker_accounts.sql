-- Broker credentials and ACL for brokers that read them from PostgreSQL (an
-- EMQX cluster), from the same `$7$` hashes Mosquitto's password file holds.
-- Devices come from `device`; the cloud's own accounts (gridwatch-cloud,
-- gridwatch-relay, gridwatch-frigate) are written here by `gridwatch broker config`.

CREATE TABLE broker_account (
    username      text PRIMARY KEY CHECK (username ~ '^gridwatch-[a-z0-9_-]{1,54}$'),
    role          text NOT NULL CHECK (role IN ('cloud', 'relay', 'frigate')),
    password_hash text NOT NULL CHECK (password_hash ~ '^\$7\$[0-9]+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$'),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- EMQX's pbkdf2 check: lowercase hex of PBKDF2(mac_fun, password, salt,
-- iterations, dk_length) must equal password_hash, with the salt taken as raw
-- bytes and the iteration count fixed in EMQX's config. A `$7$` string is
-- `$7$<iterations>$<base64 salt>$<base64 64-byte digest>`: re-encode it.
CREATE VIEW broker_authn AS
SELECT username,
       encode(decode(split_part(h, '$', 5), 'base64'), 'hex') AS password_hash,
       decode(split_part(h, '$', 4), 'base64')                AS salt,
       split_part(h, '$', 3)::int                             AS iterations,
       false                                                  AS is_superuser
FROM (SELECT dev AS username, broker_password_hash AS h
      FROM device
      WHERE registered AND broker_password_hash LIKE '$7$%'
      UNION ALL
      SELECT username, password_hash FROM broker_account) AS accounts;

-- One row per allowed (action, topic filter), in EMQX authz's shape; the same
-- rules as deploy/mosquitto/acl.template. No row matches = denied
-- (authorization.no_match = deny).
CREATE VIEW broker_acl AS
SELECT d.dev AS username, 'allow'::text AS permission, r.action,
       replace(r.topic, '{dev}', d.dev) AS topic
FROM device d
CROSS JOIN (VALUES
    ('publish',   'gw/v1/{dev}/hb'),
    ('publish',   'gw/v1/{dev}/alert'),
    ('publish',   'gw/v1/{dev}/det'),
    ('publish',   'gw/v1/{dev}/report'),
    ('publish',   'gw/v1/{dev}/state'),
    ('subscribe', 'gw/v1/{dev}/cmd'),
    ('subscribe', 'gw/v1/{dev}/ack'),
    ('all',       'owntracks/{dev}/#')
) AS r (action, topic)
WHERE d.registered AND d.broker_password_hash IS NOT NULL
UNION ALL
SELECT a.username, 'allow', r.action, r.topic
FROM broker_account a
JOIN (VALUES
    ('cloud',   'subscribe', 'gw/v1/+/hb'),
    ('cloud',   'subscribe', 'gw/v1/+/alert'),
    ('cloud',   'subscribe', 'gw/v1/+/det'),
    ('cloud',   'subscribe', 'gw/v1/+/report'),
    ('cloud',   'subscribe', 'gw/v1/+/state'),
    ('cloud',   'publish',   'gw/v1/+/cmd'),
    ('cloud',   'publish',   'gw/v1/+/ack'),
    ('cloud',   'subscribe', 'owntracks/#'),
    ('cloud',   'subscribe', 'frigate/events'),
    ('cloud',   'subscribe', '$SYS/#'),
    ('relay',   'publish',   'gw/v1/+/hb'),
    ('relay',   'publish',   'gw/v1/+/alert'),
    ('relay',   'publish',   'gw/v1/+/det'),
    ('relay',   'publish',   'gw/v1/+/report'),
    ('relay',   'publish',   'gw/v1/+/state'),
    ('relay',   'subscribe', 'gw/v1/+/cmd'),
    ('relay',   'subscribe', 'gw/v1/+/ack'),
    ('frigate', 'publish',   'frigate/#')
) AS r (role, action, topic) ON r.role = a.role;
