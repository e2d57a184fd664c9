//! `neigh help` and `neigh COMMAND help`.

use crate::cli::Topic;

const HEAD: &str = "Usage: neigh [ -4 | -6 ] [ -s [ -s ] ] [ -j [ -p ] ] COMMAND [ ARGS ]\n";

const SHOW: &str = "\
  neigh [ show | list ] [ proxy ] [ to PREFIX ] [ dev DEV ] [ nud STATE ]...
                        [ router ] [ unused ] [ protocol PROTO ] [ master DEV ]
      No arguments: every interface's IPv4 and IPv6 table, as `ip neigh show`
      prints it (NOARP entries need `nud noarp` or `nud all`). `dev` is filtered by
      the kernel. -s adds ref/used/confirmed/updated and probes; -j prints
      `ip -j neigh` JSON, -j -p the pretty form.
";

const FLUSH: &str = "\
  neigh flush { [ to PREFIX ] [ dev DEV ] [ nud STATE ] [ proxy ] | all }
      Deletes matching entries in rounds, like `ip neigh flush`: PERMANENT and
      NOARP entries are kept unless `nud permanent` / `nud all` asks for them.
      -s reports the rounds, -s -s also lists each entry deleted.
";

const GET: &str = "\
  neigh get { ADDR | proxy ADDR } dev DEV
      One entry, asked of the kernel directly (RTM_GETNEIGH).
";

const MODIFY: &str = "\
  neigh { add | replace | change | del } { ADDR [ lladdr LLADDR ] [ nud STATE ] | proxy ADDR }
        dev DEV [ router ] [ use ] [ managed ] [ extern_learn ] [ protocol PROTO ]
      add fails if the entry exists, change if it does not, replace does either.
      The default state is permanent.
";

const MONITOR: &str = "\
  neigh monitor [ dev DEV ]
      Prints neighbor events as they happen, like `ip monitor neigh`: new and
      changed entries, `Deleted ...` and `miss ...` (a resolution request). With -j
      each event is one JSON object per line, with `ip -j neigh` keys plus
      \"deleted\": true or \"miss\": null.
";

const NDP: &str = "\
  neigh ndp -a | show [ -i IF ]                       = neigh -6 show [ dev IF ]
  neigh ndp [ get ] ADDR [ -i IF ]                    = neigh get ADDR dev IF
                                                        (every interface without -i)
  neigh ndp -s | set ADDR LLADDR -i IF [ temp ] [ router ] [ proxy ]
                                                      = neigh replace ADDR lladdr LLADDR
                                                        dev IF nud permanent [ router ]
                                                        (temp: nud reachable;
                                                         proxy: replace proxy ADDR dev IF)
  neigh ndp -d | delete ADDR [ -i IF ]                = neigh del ADDR dev IF
                                                        (the only entry without -i)
      The illumos ndp(8) verbs for IPv6 neighbor discovery; -n is accepted and
      ignored. `dev IF` may be written for `-i IF`. Output is `ip neigh` format.
";

const MIRROR: &str = "\
  neigh mirror ...  |  neigh map { show | stat } ...
      The shared-memory mirror of the tables and its map: see `neigh mirror help`
      and `neigh map help`.
";

const STATES: &str = "\
STATE := { permanent | noarp | stale | reachable | none | incomplete |
           delay | probe | failed | all (filters only) }
";

/// The usage text for `topic`.
pub fn text(topic: Topic) -> String {
    let body = match topic {
        Topic::All => return format!("{HEAD}\n{SHOW}\n{GET}\n{MODIFY}\n{FLUSH}\n{MONITOR}\n{NDP}\n{MIRROR}\n  neigh help [ COMMAND ]\n\n{STATES}"),
        Topic::Show => SHOW,
        Topic::Flush => FLUSH,
        Topic::Get => GET,
        Topic::Modify => MODIFY,
        Topic::Monitor => MONITOR,
        Topic::Ndp => NDP,
    };
    format!("{HEAD}\n{body}\n{STATES}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_mentions_its_command() {
        assert!(text(Topic::All).contains("neigh ndp -d"));
        assert!(text(Topic::Show).contains("neigh [ show"));
        assert!(text(Topic::Flush).contains("neigh flush"));
        assert!(text(Topic::Get).contains("neigh get"));
        assert!(text(Topic::Modify).contains("replace"));
        assert!(text(Topic::Monitor).contains("neigh monitor"));
        assert!(text(Topic::Ndp).contains("= neigh get ADDR dev IF"));
    }
}
