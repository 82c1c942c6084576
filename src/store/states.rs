//! The closed sets of words the database keeps in text columns (a conversation's status, a
//! handoff's status, a message's direction and sender, a channel, an outbox row's status) as
//! enums, so that the compiler finds every reader of a status and a typo is an error, not a
//! branch that never runs.
//!
//! Each enum has one spelling per variant, used for the column, the JSON of the HTTP API and
//! exports (unchanged from when these were strings), `Display` and `FromStr`.
//!
//! Why `Type`/`Encode`/`Decode` for [`Any`] by hand instead of `#[derive(sqlx::Type)]`: the
//! derive implements them for a concrete database (or, for a text enum, through
//! `#[sqlx(type_name)]` machinery that `Any` does not provide), while the store talks to both
//! SQLite and PostgreSQL through `Any`. Going through `&str`/`String` keeps the column text
//! exactly as before, so the enums read existing databases and need no migration; the enums
//! then work in `#[derive(sqlx::FromRow)]` rows and as bound parameters alike. A word outside
//! the set fails the read with [`UnknownState`] instead of passing through silently.
//!
//! A message's `kind` (`text`, `button_reply`, `image`, … as WhatsApp sends them) and its
//! delivery status (WhatsApp may report statuses Loket does not know, such as `deleted`) are
//! open sets and stay strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::any::{Any, AnyTypeInfo};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

/// A column held a word that is not one of its enum's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} \"{value}\"")]
pub struct UnknownState {
    /// What was parsed (`conversation status`, `channel`, …).
    pub kind: &'static str,
    pub value: String,
}

/// Declares a text enum: variants with their spelling, serde, `Display`, `FromStr`,
/// `TryFrom<String>` and the `Any` column conversions (see the module documentation); with
/// `open = A | B;`, an `is_open` that holds for those variants.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
        $( $(#[$open_meta:meta])* open = $($open:ident)|+; )?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word as stored and as the API spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownState;
            fn from_str(s: &str) -> Result<Self, UnknownState> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    other => Err(UnknownState {
                        kind: $what,
                        value: other.to_string(),
                    }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownState;
            fn try_from(s: String) -> Result<Self, UnknownState> {
                s.parse()
            }
        }

        impl Type<Any> for $name {
            fn type_info() -> AnyTypeInfo {
                <str as Type<Any>>::type_info()
            }
            fn compatible(ty: &AnyTypeInfo) -> bool {
                <str as Type<Any>>::compatible(ty)
            }
        }

        impl<'q> Encode<'q, Any> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut <Any as Database>::ArgumentBuffer<'q>,
            ) -> Result<IsNull, BoxDynError> {
                <&str as Encode<'q, Any>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> Decode<'r, Any> for $name {
            fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(<String as Decode<'r, Any>>::decode(value)?.parse::<$name>()?)
            }
        }

        $(
            impl $name {
                $(#[$open_meta])*
                pub fn is_open(self) -> bool {
                    matches!(self, $($name::$open)|+)
                }
            }
        )?
    };
}

text_enum! {
    /// Where a conversation is: `bot` → (handoff) `waiting` → (claim) `assigned` →
    /// `resolved`, or back to `bot` when a person releases it.
    ConversationStatus ("conversation status") {
        /// The bot answers.
        Bot = "bot",
        /// A handoff was requested; the conversation is in a department's queue.
        Waiting = "waiting",
        /// A person owns it; the bot stays silent.
        Assigned = "assigned",
        Resolved = "resolved",
    }
    /// A person still has to act (waiting for one, or one owns it): such a conversation is
    /// never purged and stays the contact's current one however long it takes.
    open = Waiting | Assigned;
}

text_enum! {
    /// One request for a person, from request to end.
    HandoffStatus ("handoff status") {
        Waiting = "waiting",
        Assigned = "assigned",
        /// Moved to another department (a new handoff row continues there).
        Transferred = "transferred",
        Resolved = "resolved",
        /// Handed back to the bot.
        Released = "released",
    }
    /// Still waiting for or with a person.
    open = Waiting | Assigned;
}

text_enum! {
    /// A message from the citizen (`in`) or to them (`out`).
    Direction ("message direction") {
        In = "in",
        Out = "out",
    }
}

text_enum! {
    /// Who wrote a message.
    Sender ("message sender") {
        Citizen = "citizen",
        Bot = "bot",
        /// A person of the contact centre.
        Agent = "agent",
    }
}

text_enum! {
    /// The channel a conversation (and each of its messages) belongs to.
    Channel ("channel") {
        /// The web chat.
        Web = "web",
        Whatsapp = "whatsapp",
        /// Conversations of `POST /v1/messages` with `"channel": "test"` (smoke tests,
        /// monitoring), kept apart from real web chats.
        Test = "test",
    }
}

text_enum! {
    /// An outbox row: `pending` (due at `next_attempt_at`) → `sending` (claimed; its send
    /// may have reached the channel) → `sent` or `failed`, or `pending` again for a retry.
    OutboxStatus ("outbox status") {
        Pending = "pending",
        Sending = "sending",
        Sent = "sent",
        Failed = "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_keep_their_words_in_json_and_text() {
        for s in ConversationStatus::ALL {
            assert_eq!(s.as_str().parse::<ConversationStatus>(), Ok(*s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        assert_eq!(Channel::Whatsapp.to_string(), "whatsapp");
        assert_eq!(
            serde_json::from_str::<Direction>("\"out\"").unwrap(),
            Direction::Out
        );
        let e = "webchat".parse::<Channel>().unwrap_err();
        assert_eq!(e.to_string(), "unknown channel \"webchat\"");
    }
}
