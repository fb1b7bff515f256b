DROP TABLE user_devices;
