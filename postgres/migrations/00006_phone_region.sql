-- +goose Up
-- The region phone numbers without a country code are read in, per
-- tenant. Tenants created before had their numbers read in DE, so that is
-- what they keep.
ALTER TABLE tenants ADD COLUMN phone_region text NOT NULL DEFAULT 'DE';

-- +goose Down
ALTER TABLE tenants DROP COLUMN phone_region;
