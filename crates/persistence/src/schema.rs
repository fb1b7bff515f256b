//! The tables as diesel sees them. Written by hand (diesel_cli would need libmysqlclient);
//! `tests/it/schema.rs` checks it against the migrated database.

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
        inserted_at -> Datetime,
        updated_at -> Datetime,
        deleted_at -> Nullable<Datetime>,
    }
}

diesel::joinable!(user_devices -> users (user_id));
diesel::joinable!(comments -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, user_devices, comments);
