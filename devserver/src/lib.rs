//! tchat-devserver: a local Trigger.dev sessions API with a demo agent (see issue 3).
