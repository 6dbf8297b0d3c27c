//! Xenstore wire protocol, client, the rxenstored daemon and the rxenstore CLI.
