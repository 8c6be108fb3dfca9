DROP TABLE events;
DROP TABLE applied_notifications;
DROP TABLE message_queue;
DROP TABLE gateway_messages;
DROP TABLE payments;
