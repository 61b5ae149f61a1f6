-- Pruning (ansinh.runtime.prune) deletes inbox rows older than the retention in small batches: it finds
-- them by processed_at. Appended in time order, the index costs an insert at its right edge. The outbox
-- needs none: its old published rows are the lowest ids, found through the primary key.
CREATE INDEX inbox_processed_at ON inbox (processed_at);
