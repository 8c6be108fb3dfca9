DROP TABLE librement_top_ups;
DROP TABLE librement_sign_in_failures;
DROP TABLE librement_entries;
DROP TABLE librement_transactions;
DROP TABLE librement_accounts;
DROP TABLE librement_users;
