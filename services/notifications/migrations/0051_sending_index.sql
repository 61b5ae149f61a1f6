-- Rows in flight: read by the crash recovery and the state gauges every few seconds, which must not scan a
-- table of millions of sent notifications to find a handful.
CREATE INDEX notifications_sending ON notifications (channel) WHERE state = 'sending';
