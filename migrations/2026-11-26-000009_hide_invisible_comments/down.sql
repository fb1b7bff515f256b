-- Nothing to undo: which comments this hid is not recorded, and they stay hidden.
DO 0;
