-- What each claimed event said (ansinh.runtime.inbox.content_digest): the same event id arriving again
-- with another digest is a producer reusing ids, refused to the DLQ instead of dropped as a duplicate.
-- Nullable: rows claimed before this migration, or by a caller passing ids only, have no digest, and a
-- redelivery of their id is treated as a duplicate, as before. Adding a nullable column rewrites nothing.
ALTER TABLE inbox ADD COLUMN digest bytea;
