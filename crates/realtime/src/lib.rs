//! The Phoenix Channels V2 side of realtime-server: frame codec, per-socket sessions,
//! topic hub, presence and the Broker that carries fanout between nodes. (Arrives with its issue.)
