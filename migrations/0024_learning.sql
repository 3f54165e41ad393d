-- Learned pool weights: a project may let each provider × geo cell's share of its quota
-- follow the cell's measured successes per allocated number. NULL keeps the rules' fixed
-- weights. The document holds the exploration floor, the half-life of old days, and the
-- administrator's pins and caps per cell; the engine validates it.
ALTER TABLE projects ADD COLUMN learning jsonb;
