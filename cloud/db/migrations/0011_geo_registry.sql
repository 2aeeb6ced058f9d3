-- The working calendar gets its own registry version (bumped by `gridwatch
-- calendar import`), so SLA clocks and attendance can cache it and reload on change.
INSERT INTO registry_version (name) VALUES ('calendar') ON CONFLICT (name) DO NOTHING;
