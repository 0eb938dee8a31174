import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OnyxEval

/// The self-contained HTML page at `GET /`: the repository's models (state, versions, inputs/outputs), live
/// statistics polled from `/v2/models/stats`, and a try-it form per ready model that sends a real v2 infer request.
/// Rank-4 (NCHW) inputs get an image picker (resized and converted to float CHW 0..1 in the browser); every other
/// input gets a comma-separated text box prefilled with zeros of the right width.
enum WebPage {
    /// `authorized == false` (a token is configured and the request did not carry it) gives a page that shows no
    /// repository state, only a token field; the script then fetches the full page with the token.
    static func response(core: ServerCore, authorized: Bool) -> Response {
        var h = HTTPFields()
        h[.contentType] = "text/html; charset=utf-8"
        h[.cacheControl] = "no-store"
        let html = authorized ? render(core: core) : loginPage
        return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func escape(_ s: String) -> String { htmlEscape(s) }

    static func shapeText(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }

    static func render(core: ServerCore) -> String {
        let ready = core.repository.readyVersions
        let index = core.repository.index(readyOnly: false).arrayValue ?? []
        var names: [String] = []
        for e in index { if let n = e["name"]?.stringValue, !names.contains(n) { names.append(n) } }
        for mv in ready where !names.contains(mv.name) { names.append(mv.name) }
        var body = ""
        if names.isEmpty { body += "<p class=muted>The repository has no models.</p>" }
        for name in names {
            let versions = ready.filter { $0.name == name }
            let entries = index.filter { $0["name"]?.stringValue == name }
            let en = escape(name)
            body += "<section class=model data-model=\"\(en)\"><h2>\(en)"
            if versions.isEmpty {
                let reason = entries.compactMap { $0["reason"]?.stringValue }.first ?? "not loaded"
                body += " <span class='badge bad'>UNAVAILABLE</span></h2><p class=muted>\(escape(reason))</p></section>"
                continue
            }
            body += " <span class='badge ok'>READY</span></h2>"
            for e in entries {
                if e["state"]?.stringValue == "UNAVAILABLE", let v = e["version"]?.stringValue {
                    body += "<p class=muted>version \(escape(v)) unavailable: \(escape(e["reason"]?.stringValue ?? ""))</p>"
                }
            }
            for mv in versions.reversed() { body += section(mv, showToken: core.options.authToken != nil) }
            body += "</section>"
        }
        let token = core.options.authToken != nil
            ? "<label class=tok>Bearer token <input id=token type=password autocomplete=off></label>" : "<input id=token type=hidden value=''>"
        return """
        <!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content="width=device-width,initial-scale=1">
        <title>Onyx model server</title><style>\(css)</style></head><body>
        <header><h1>Onyx model server</h1><span class=muted>v\(InferenceServer.version) · KServe v2 API at <code>/v2</code> · <a href="/metrics">/metrics</a></span>\(token)</header>
        <main>\(body)</main><script>\(script)</script></body></html>
        """
    }

    static func section(_ mv: ModelVersion, showToken: Bool) -> String {
        let n = escape(mv.name), v = String(mv.version)
        var s = "<div class=version data-model=\"\(n)\" data-version=\"\(v)\"><h3>version \(v) <span class=muted>\(escape(mv.config.platform))"
        if mv.config.maxBatchSize > 0 { s += " · max_batch_size \(mv.config.maxBatchSize)" }
        s += "</span></h3><table><tr><th></th><th>name</th><th>datatype</th><th>shape</th></tr>"
        for t in mv.config.inputs {
            s += "<tr><td>input</td><td>\(escape(t.name))</td><td>\(V2DataType.name(t.dataType))</td><td>\(shapeText(mv.metadataShape(t)))</td></tr>"
        }
        for t in mv.config.outputs {
            s += "<tr><td>output</td><td>\(escape(t.name))</td><td>\(V2DataType.name(t.dataType))</td><td>\(shapeText(mv.metadataShape(t)))</td></tr>"
        }
        s += "</table><p class=stats data-stats=\"\(n)/\(v)\">stats: loading…</p>"
        s += "<form class=infer data-model=\"\(n)\" data-version=\"\(v)\"><h4>Try it</h4>"
        for t in mv.config.inputs {
            // Request shape: the metadata shape with every -1 (batch or free dim) set to 1.
            var shape = mv.metadataShape(t).map { $0 < 0 ? 1 : $0 }
            let dt = V2DataType.name(t.dataType)
            let en = escape(t.name)
            if shape.count == 4 {
                if shape[2] <= 1 && shape[3] <= 1 { shape[2] = 224; shape[3] = 224 }
                s += "<label>\(en) — image, resized to \(shape[3])×\(shape[2]), \(shape[1]) channel(s), float CHW 0..1"
                s += "<input type=file accept=\"image/*\" class=image data-name=\"\(en)\" data-datatype=\"\(dt)\" data-shape=\"\(shapeText(shape))\"></label>"
                s += "<canvas width=\(shape[3]) height=\(shape[2])></canvas>"
            } else {
                let count = shape.reduce(1, *)
                let zeros = Array(repeating: dt == "BYTES" ? "" : "0", count: min(count, 1 << 16)).joined(separator: ",")
                s += "<label>\(en) — \(count) value(s), comma-separated"
                s += "<textarea rows=2 class=numbers data-name=\"\(en)\" data-datatype=\"\(dt)\" data-shape=\"\(shapeText(shape))\">\(zeros)</textarea></label>"
            }
        }
        s += "<button type=submit>Infer</button><pre class=result></pre></form></div>"
        return s
    }

    static let css = """
    body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}
    header{background:#16181d;color:#fff;padding:12px 20px;display:flex;gap:16px;align-items:baseline;flex-wrap:wrap}
    header h1{font-size:20px;margin:0}header a{color:#9cf}header .muted{color:#aab}
    .tok{margin-left:auto}main{padding:16px 20px;display:grid;gap:16px}
    .model{background:#fff;border:1px solid #dde;border-radius:8px;padding:8px 16px}
    h2{font-size:18px;margin:8px 0}h3{font-size:15px;margin:8px 0}h4{margin:8px 0 4px}
    .badge{font-size:11px;padding:2px 6px;border-radius:4px;vertical-align:middle}
    .ok{background:#d4f5dc;color:#0a6b26}.bad{background:#fbd8d8;color:#8a1010}.muted{color:#667}
    table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left}th{color:#667;font-weight:500}
    label{display:block;margin:4px 0}textarea{display:block;width:100%;box-sizing:border-box;font-family:monospace}
    canvas{border:1px solid #ccd;image-rendering:pixelated;width:112px;height:auto;display:block;margin:4px 0}
    button{padding:4px 14px}pre{background:#f0f2f5;padding:6px;white-space:pre-wrap;max-height:240px;overflow:auto}
    pre:empty{display:none}.err{color:#a00}
    """

    static let script = """
    const $=(s,e=document)=>[...e.querySelectorAll(s)];
    const tok=document.getElementById('token');
    if(tok&&tok.type!=='hidden'){tok.value=sessionStorage.getItem('onyx-token')||'';tok.onchange=()=>sessionStorage.setItem('onyx-token',tok.value);}
    function hdrs(){const h={'Content-Type':'application/json'};if(tok&&tok.value)h.Authorization='Bearer '+tok.value;return h;}
    async function stats(){
      try{const r=await fetch('/v2/models/stats',{headers:hdrs()});if(!r.ok)return;const j=await r.json();
        for(const m of j.model_stats||[]){const el=document.querySelector(`[data-stats="${CSS.escape(m.name)}/${CSS.escape(m.version)}"]`);if(!el)continue;
          const s=(m.inference_stats||{}).success||{count:0,ns:0};const f=(m.inference_stats||{}).fail||{count:0};
          const avg=s.count?(s.ns/s.count/1e6).toFixed(3)+' ms':'–';
          el.textContent=`stats: ${m.inference_count||0} inferences in ${m.execution_count||0} executions · ${s.count} ok, ${f.count} failed · avg ${avg}`;}
      }catch(e){}
    }
    stats();setInterval(stats,3000);
    for(const inp of $('input.image')){inp.onchange=()=>{const f=inp.files[0];if(!f)return;const img=new Image();
      img.onload=()=>{const c=inp.closest('label').nextElementSibling;const g=c.getContext('2d');g.drawImage(img,0,0,c.width,c.height);URL.revokeObjectURL(img.src);};
      img.src=URL.createObjectURL(f);};}
    function tensor(el){
      const shape=JSON.parse(el.dataset.shape),dt=el.dataset.datatype,n=shape.reduce((a,b)=>a*b,1);let data;
      if(el.classList.contains('image')){
        if(!el.files[0])throw new Error(`choose an image for '${el.dataset.name}'`);
        const c=el.closest('label').nextElementSibling,[C,H,W]=[shape[1],shape[2],shape[3]];
        const px=c.getContext('2d').getImageData(0,0,W,H).data;data=new Array(n);
        for(let b=0;b<shape[0];b++)for(let ch=0;ch<C;ch++)for(let i=0;i<H*W;i++){
          const v=C===3?px[i*4+ch]:(px[i*4]+px[i*4+1]+px[i*4+2])/3;data[(b*C+ch)*H*W+i]=v/255;}
      }else{
        const parts=el.value.split(',').map(s=>s.trim());
        if(dt==='BYTES')data=parts;
        else{data=parts.filter(s=>s!=='').map(Number);if(data.some(isNaN))throw new Error(`'${el.dataset.name}': not a number`);
          if(dt==='BOOL')data=data.map(x=>x!==0);}
        if(data.length!==n)throw new Error(`'${el.dataset.name}' needs ${n} values, got ${data.length}`);
      }
      return{name:el.dataset.name,datatype:dt,shape,data};
    }
    function show(out){
      return out.map(o=>{let s=`${o.name} ${o.datatype} [${o.shape}]: `;const d=o.data||[];
        s+=d.length>64?JSON.stringify(d.slice(0,64)).slice(0,-1)+', …]':JSON.stringify(d);
        if(o.datatype.startsWith('FP')&&d.length>1){let k=0;d.forEach((v,i)=>{if(v>d[k])k=i});s+=`\\n  argmax ${k} (${d[k]})`;}
        return s;}).join('\\n');
    }
    for(const form of $('form.infer')){form.onsubmit=async ev=>{ev.preventDefault();const pre=form.querySelector('.result');pre.className='result';
      try{const body={id:'web-'+Date.now(),inputs:$('.numbers,.image',form).map(tensor)};pre.textContent='…';const t0=performance.now();
        const r=await fetch(`/v2/models/${encodeURIComponent(form.dataset.model)}/versions/${form.dataset.version}/infer`,{method:'POST',headers:hdrs(),body:JSON.stringify(body)});
        const j=await r.json();if(!r.ok)throw new Error(`${r.status}: ${j.error}`);
        pre.textContent=show(j.outputs)+`\\n(${(performance.now()-t0).toFixed(1)} ms round trip)`;stats();
      }catch(e){pre.className='result err';pre.textContent=String(e.message||e);}};}
    """

    /// Shown when a token is required and missing: no repository state, just the token field.
    static let loginPage = """
    <!doctype html><html lang=en><head><meta charset=utf-8><title>Onyx model server</title><style>\(css)</style></head><body>
    <header><h1>Onyx model server</h1><span class=muted>this server requires a bearer token</span></header>
    <main><form id=login class=model><label>Bearer token <input id=token type=password autocomplete=off></label><button type=submit>Open</button><pre class=result></pre></form></main>
    <script>
    const f=document.getElementById('login'),t=document.getElementById('token');t.value=sessionStorage.getItem('onyx-token')||'';
    async function open(){const r=await fetch('/',{headers:{Authorization:'Bearer '+t.value}});const html=await r.text();
      if(html.includes('id=login')){f.querySelector('pre').textContent='wrong token';return;}
      sessionStorage.setItem('onyx-token',t.value);document.open();document.write(html);document.close();}
    f.onsubmit=ev=>{ev.preventDefault();open();};if(t.value)open();
    </script></body></html>
    """
}
