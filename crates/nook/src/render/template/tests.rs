use super::*;
use serde_json::json;

fn container() -> Value {
    json!({
        "Name": "/web-1", "Image": "busybox:latest", "Args": ["-c", "sleep 60"],
        "Names": "web-1", "Count": 3, "Zero": 0, "Empty": "", "Nothing": null,
        "State": {"Status": "running", "Running": true,
                  "Health": {"Status": "healthy", "FailingStreak": 0}},
        "Mounts": [{"Type": "volume", "Destination": "/data"},
                   {"Type": "bind", "Destination": "/etc/x"}],
        "Config": {"Labels": {"b": "2", "a": "1"}, "Cmd": ["sh"]},
    })
}

fn r(t: &str) -> String {
    Template::parse(t).unwrap().render(&container()).unwrap()
}

fn err(t: &str) -> String {
    match Template::parse(t) {
        Err(e) => e,
        Ok(t) => t.render(&container()).unwrap_err(),
    }
}

#[test]
fn fields_and_values_as_go_prints_them() {
    assert_eq!(r("{{.Names}}:{{ .State.Health.Status }}"), "web-1:healthy");
    assert_eq!(
        r("{{.Args}} {{.Count}} {{.State.Running}}"),
        "[-c sleep 60] 3 true"
    );
    assert_eq!(r("{{.Config.Labels}}"), "map[a:1 b:2]");
    assert_eq!(r("{{.Nothing}}"), "<no value>");
    assert_eq!(
        r("{{json .Config.Cmd}}\\t{{json .Names}}"),
        "[\"sh\"]\t\"web-1\""
    );
    assert_eq!(r("{{json .}}"), container().to_string());
    assert_eq!(r("{{\"lit\"}} {{`raw`}} {{42}}"), "lit raw 42");
}

#[test]
fn docker_functions() {
    assert_eq!(r("{{upper .Names}} {{lower \"AbC\"}}"), "WEB-1 abc");
    assert_eq!(r("{{title \"hello big-world\"}}"), "Hello Big-World");
    assert_eq!(r("{{split .Image \":\"}}"), "[busybox latest]");
    assert_eq!(r("{{join .Args \", \"}}"), "-c, sleep 60");
    assert_eq!(r("{{join (split .Image \":\") \"/\"}}"), "busybox/latest");
    assert_eq!(
        r("[{{pad .Names 2 1}}][{{pad .Empty 2 1}}]"),
        "[  web-1 ][]"
    );
    assert_eq!(
        r("{{truncate .Image 4}} {{truncate .Names 50}}"),
        "busy web-1"
    );
    assert_eq!(r("{{.Names | upper}}"), "WEB-1");
    // the piped value is the last argument, as in Go
    assert_eq!(r("{{split .Image \":\" | len}}"), "2");
    assert_eq!(r("{{\":\" | split .Image}}"), "[busybox latest]");
}

#[test]
fn go_functions() {
    assert_eq!(
        r("{{len .Mounts}} {{len .Names}} {{len .Config.Labels}}"),
        "2 5 2"
    );
    assert_eq!(
        r("{{index .Args 1}} {{index .Config.Labels \"a\"}}"),
        "sleep 60 1"
    );
    assert_eq!(r("{{(index .Mounts 1).Type}}"), "bind");
    assert_eq!(r("{{println .Names .Count}}"), "web-1 3\n");
    assert_eq!(r("{{print .Count .Zero \"x\" 1}}"), "3 0x1");
    assert_eq!(
        r("{{printf \"%-6s|%3d|%q\" .Names .Count \"a\"}}"),
        "web-1 |  3|\"a\""
    );
    assert_eq!(
        r("{{eq .Names \"web-1\"}} {{ne .Count 3}} {{lt 1 2}} {{ge .Count 4}}"),
        "true false true false"
    );
    assert_eq!(r("{{eq .Names \"a\" \"web-1\"}}"), "true");
    let row = json!({"Labels": "a=1,b=x=y", "Config": {"Labels": {"c": "3"}}});
    let t = Template::parse("{{.Label \"b\"}}|{{.Label \"z\"}}|{{.Config.Label \"c\"}}").unwrap();
    assert_eq!(t.render(&row).unwrap(), "x=y||3");
    assert_eq!(
        r("{{and .Count .Empty}}|{{or .Empty .Names}}|{{not .Zero}}"),
        "|web-1|true"
    );
}

#[test]
fn control_structures() {
    assert_eq!(
        r("{{range .Mounts}}{{.Destination}} {{end}}"),
        "/data /etc/x "
    );
    assert_eq!(
        r("{{range $i, $m := .Mounts}}{{$i}}={{$m.Type}};{{end}}"),
        "0=volume;1=bind;"
    );
    assert_eq!(
        r("{{range $k, $v := .Config.Labels}}{{$k}}{{$v}}{{end}}"),
        "a1b2"
    );
    assert_eq!(r("{{range .Nothing}}x{{else}}none{{end}}"), "none");
    assert_eq!(r("{{range .Args}}{{$.Names}}{{end}}"), "web-1web-1");
    assert_eq!(r("{{if .State.Running}}up{{else}}down{{end}}"), "up");
    assert_eq!(r("{{if .Zero}}a{{else if .Empty}}b{{else}}c{{end}}"), "c");
    assert_eq!(r("{{if .Zero}}a{{else if .Count}}b{{else}}c{{end}}"), "b");
    assert_eq!(r("{{if eq .State.Status \"running\"}}yes{{end}}"), "yes");
    assert_eq!(
        r("{{with .State.Health}}{{.Status}}{{else}}-{{end}}"),
        "healthy"
    );
    assert_eq!(r("{{with .Nothing}}x{{else}}-{{end}}"), "-");
    assert_eq!(r("{{$n := .Names}}{{upper $n}}"), "WEB-1");
    assert_eq!(r("a  {{- /* note */ -}}  b {{- \" c\" }}"), "ab c");
}

#[test]
fn bad_templates_are_one_line_errors() {
    for (t, want) in [
        ("{{.Nope}}", "can't evaluate field Nope"),
        ("{{.Nothing.X}}", "nil pointer evaluating X"),
        ("{{.Names", "unclosed action"),
        ("{{Names}}", "function \"Names\" not defined"),
        ("{{if .Names}}x", "unexpected EOF"),
        ("{{end}}", "unexpected {{end}}"),
        (
            "{{join .Args}}",
            "wrong number of args for join: want 2 got 1",
        ),
        ("{{index .Args 5}}", "index out of range: 5"),
        ("{{range .Names}}{{end}}", "range can't iterate over web-1"),
        ("{{\"open}}", "unclosed action"),
        ("{{`open}}", "unclosed action"),
        ("{{$x}}", "undefined variable: $x"),
        ("{{.Names 1}}", "can't give argument to non-function"),
    ] {
        let e = err(t);
        assert!(e.contains(want), "{t}: {e}");
        assert!(e.starts_with("template"), "{t}: {e}");
        assert!(!e.contains('\n'), "{t}: {e}");
    }
}

#[test]
fn tables_have_a_header_and_aligned_cells() {
    let t = Template::parse("table {{.ID}}\\t{{.Names | upper}}\\t{{json .Size}}").unwrap();
    assert!(t.table);
    assert_eq!(t.header(), "ID\tNAMES\tSIZE");
    let title = |f: &str| (f == "ID").then_some("CONTAINER ID");
    let rows = [json!({"ID": "abc", "Names": "a", "Size": 1})];
    let out = t.render_all(&rows, &title).unwrap();
    assert_eq!(
        out,
        "CONTAINER ID   NAMES     SIZE\nabc            A         1\n"
    );
    let plain = Template::parse("{{.ID}}").unwrap();
    assert!(!plain.table);
    assert_eq!(plain.render_all(&rows, &title).unwrap(), "abc\n");
}

#[test]
fn tabwriter_as_go_aligns() {
    assert_eq!(
        tabwrite("a\tb\nlonger-than-ten\tc"),
        "a                 b\nlonger-than-ten   c"
    );
    // a column's width holds over a run of lines that have it
    assert_eq!(tabwrite("a\tb\nc\nd\te"), "a         b\nc\nd         e");
}
