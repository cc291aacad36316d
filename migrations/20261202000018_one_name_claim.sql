-- One name-claim mechanism: usernames move into name_claims (kind 'user'), beside instance
-- names, and the separate user_name_claims table goes. Nothing else read it.
INSERT INTO name_claims (kind, name, owner_id, claimed_at)
SELECT 'user', username, user_id, claimed_at FROM user_name_claims
ON CONFLICT DO NOTHING;

DROP TABLE user_name_claims;
