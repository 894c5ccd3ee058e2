//! network-get, unit-get, open-port, close-port, opened-ports: the unit's address and
//! ports.
use super::args::{deprecated_format, emit, no_extra, relation, FMT, OUT, REL, SMART};
use super::{ToolCtx, ToolError, ToolOutput};
use crate::context::Change;
use crate::flags::{flag, parse, Format};
use crate::model::OpenedPort;
use crate::ports::PortRange;
use serde_json::{json, Value};

pub(super) fn network_get(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(
        args,
        &[
            REL,
            FMT,
            OUT,
            flag("bind-address", None, false),
            flag("ingress-address", None, false),
            flag("egress-subnets", None, false),
            flag("primary-address", None, false),
        ],
    )?;
    let binding = p
        .args
        .first()
        .ok_or_else(|| ToolError::Usage("no arguments specified".into()))?
        .clone();
    no_extra(&p.args, 1)?;
    if p.value("relation").is_some() {
        relation(ctx, &p)?;
    }
    if binding.is_empty() {
        return Err(ToolError::Usage("no binding name specified".into()));
    }
    if !ctx.snap.bindings.contains(&binding) {
        return Err(ToolError::Run(format!(
            "no network config found for binding {binding:?}"
        )));
    }
    let f = Format::parse(p.value("format"), Format::Smart, SMART)?;
    let m = &ctx.snap.machine;
    let addr = m.address.to_string();
    let egress = json!([format!("{addr}/32")]);
    let wanted: Vec<&str> = ["bind-address", "ingress-address", "egress-subnets"]
        .into_iter()
        .filter(|k| p.on(k))
        .collect();
    if p.on("primary-address") {
        if !wanted.is_empty() {
            return Err(ToolError::Usage(
                "--primary-address must be used alone".into(),
            ));
        }
        return emit(ctx, &p, &Value::String(addr), Format::Smart, SMART, out);
    }
    let single = |k: &str| match k {
        "egress-subnets" => egress.clone(),
        _ => Value::String(addr.clone()),
    };
    let v = match wanted.as_slice() {
        [] => {
            let mut address = json!({"hostname": "", "value": addr, "cidr": m.cidr});
            let mut iface = json!({"mac-address": m.mac, "interface-name": m.interface});
            if f == Format::Yaml || f == Format::Smart {
                address["address"] = Value::String(addr.clone());
                iface["macaddress"] = Value::String(m.mac.clone());
                iface["interfacename"] = Value::String(m.interface.clone());
            }
            iface["addresses"] = json!([address]);
            json!({"bind-addresses": [iface], "egress-subnets": egress, "ingress-addresses": [addr]})
        }
        [one] => single(one),
        many => Value::Object(many.iter().map(|k| (k.to_string(), single(k))).collect()),
    };
    emit(ctx, &p, &v, Format::Smart, SMART, out)
}

pub(super) fn unit_get(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[FMT, OUT])?;
    let key = p
        .args
        .first()
        .ok_or_else(|| ToolError::Usage("no setting specified".into()))?;
    no_extra(&p.args, 1)?;
    match key.as_str() {
        "private-address" | "public-address" => {
            let a = ctx.snap.machine.address.to_string();
            emit(ctx, &p, &Value::String(a), Format::Smart, SMART, out)
        }
        other => Err(ToolError::Usage(format!("unknown setting {other:?}"))),
    }
}

pub(super) fn open_port(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    port_change(ctx, "open-port", args, out)
}

pub(super) fn close_port(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    port_change(ctx, "close-port", args, out)
}

fn port_change(
    ctx: &mut ToolCtx,
    name: &str,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[FMT, flag("endpoints", None, true)])?;
    deprecated_format(name, &p, out);
    let raw = p
        .args
        .first()
        .ok_or_else(|| ToolError::Usage("no port or range specified".into()))?;
    no_extra(&p.args, 1)?;
    let range = PortRange::parse(raw)?;
    let endpoints = p.value("endpoints").map(|e| {
        e.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    });
    let port = OpenedPort {
        range: range.clone(),
        endpoints,
    };
    let open = name == "open-port";
    for (was_open, earlier) in &ctx.pending.ports {
        if earlier.range != range && earlier.range.overlaps(&range) && *was_open == open {
            let verb = if open { "open" } else { "close" };
            return Err(ToolError::Run(format!(
                "cannot {verb} {range} (unit {:?}): port range conflicts with {} requested earlier",
                ctx.snap.unit, earlier.range
            )));
        }
    }
    ctx.push(if open {
        Change::OpenPort(port)
    } else {
        Change::ClosePort(port)
    })
}

pub(super) fn opened_ports(
    ctx: &mut ToolCtx,
    args: &[String],
    out: &mut ToolOutput,
) -> Result<(), ToolError> {
    let p = parse(args, &[FMT, OUT, flag("endpoints", None, false)])?;
    no_extra(&p.args, 0)?;
    let mut ports = ctx.snap.ports.clone();
    ports.sort();
    let list: Vec<Value> = ports
        .iter()
        .map(|o| {
            let mut s = o.range.to_string();
            if p.on("endpoints") {
                match &o.endpoints {
                    Some(e) => s.push_str(&format!(" ({})", e.join(", "))),
                    None => s.push_str(" (*)"),
                }
            }
            Value::String(s)
        })
        .collect();
    emit(ctx, &p, &Value::Array(list), Format::Smart, SMART, out)
}
