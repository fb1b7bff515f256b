//! The tables as diesel sees them. Written by hand (diesel_cli would need libmysqlclient);
//! Every query in the store tests runs against the migrated database, so a column that
//! drifts from the migrations fails there.

diesel::table! {
    users (id) {
        id -> Binary,
        email -> Varchar,
        username -> Varchar,
        password_hash -> Varchar,
        role -> Varchar,
        is_active -> Bool,
        last_login_at -> Nullable<Datetime>,
        inserted_at -> Datetime,
        updated_at -> Datetime,
    }
}

diesel::table! {
    user_devices (id) {
        id -> Binary,
        user_id -> Binary,
        device_id -> Varchar,
        device_info -> Json,
        is_active -> Bool,
        last_seen_at -> Datetime,
        inserted_at -> Datetime,
        updated_at -> Datetime,
    }
}

diesel::table! {
    comments (id) {
        id -> Binary,
        video_id -> Varchar,
        user_id -> Binary,
        content -> Text,
        client_id -> Nullable<Varchar>,
        inserted_at -> Datetime,
        updated_at -> Datetime,
        deleted_at -> Nullable<Datetime>,
        /// Posted with the Firebase mirror on: its trigger wrote the outbox row
        /// (migration 000014).
        mirrored -> Bool,
        /// Its place in its room, set by the INSERT's trigger (migration 000015).
        position -> Unsigned<Bigint>,
        /// 1, then one more with every change (migration 000016).
        version -> Unsigned<Integer>,
    }
}

diesel::table! {
    /// Each room's last comment position (migration 000015).
    room_positions (video_id) {
        video_id -> Varchar,
        last_position -> Unsigned<Bigint>,
    }
}

diesel::table! {
    /// One row once demo data is seeded (migration 000017).
    demo_data (id) {
        id -> Unsigned<Tinyint>,
        seeded_at -> Datetime,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Binary,
        user_id -> Binary,
        /// The `user_devices` row id, not the client-chosen device id.
        device_id -> Binary,
        token_hash -> Binary,
        replaced_by -> Nullable<Binary>,
        revoked_at -> Nullable<Datetime>,
        expires_at -> Datetime,
        inserted_at -> Datetime,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Binary,
        action -> Varchar,
        actor_id -> Nullable<Binary>,
        subject_id -> Nullable<Binary>,
        /// MariaDB stores JSON as LONGTEXT with a `json_valid` check.
        detail -> Json,
        ip -> Nullable<Varchar>,
        inserted_at -> Datetime,
    }
}

diesel::table! {
    mirror_outbox (id) {
        id -> Unsigned<Bigint>,
        subject -> Binary,
        kind -> Varchar,
        video_id -> Nullable<Varchar>,
        /// JSON in a LONGTEXT without MariaDB's json_valid check (migration 000011).
        payload -> Nullable<Json>,
        state -> Varchar,
        attempts -> Unsigned<Smallint>,
        last_error -> Nullable<Varchar>,
        enqueued_at -> Datetime,
        finished_at -> Nullable<Datetime>,
    }
}

diesel::table! {
    /// The one sender lease (migration 000013): its single row has id 1.
    mirror_sender (id) {
        id -> Unsigned<Tinyint>,
        lease -> Nullable<Binary>,
        leased_until -> Nullable<Datetime>,
    }
}

diesel::joinable!(user_devices -> users (user_id));
diesel::joinable!(comments -> users (user_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(refresh_tokens -> user_devices (device_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    user_devices,
    comments,
    refresh_tokens,
    audit_log,
    mirror_outbox,
    mirror_sender
);
