import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@testable import Onyx
@testable import OnyxServer

/// The HTML page at `GET /` (started like ServerTests: the real server on a loopback port). The image model is
/// Tests/OnyxTests/Fixtures/webpage/tiny_cnn (scripts/make_webpage_fixture.py), added to the repository and loaded
/// explicitly.
@Suite(.serialized) struct ServerWebPageTests {
    typealias Client = ServerTests.Client

    static func page(_ c: Client) async throws -> (Int, String, String) {
        let (s, b, h) = try await c.request("GET", "/")
        return (s, String(decoding: b, as: UTF8.self), h["content-type"] ?? "")
    }

    @Test func pageListsModelsWithForms() async throws {
        try await ServerTests.withServer(mode: .explicit) { (c: Client, repo: URL) async throws in
            try FileManager.default.copyItem(at: Fixtures.url("webpage/tiny_cnn"), to: repo.appendingPathComponent("tiny_cnn"))
            for m in ["digits_mlp", "tiny_cnn", "identity_fp32", "broken"] {
                _ = try await c.post("/v2/repository/models/\(m)/load", "")
            }
            let (s, html, type) = try await Self.page(c)
            #expect(s == 200)
            #expect(type.hasPrefix("text/html"))
            // Every ready model has a section, a try-it form and a stats line; the broken one is listed UNAVAILABLE.
            for m in ["digits_mlp", "tiny_cnn", "identity_fp32"] {
                #expect(html.contains("<form class=infer data-model=\"\(m)\""), "no form for \(m)")
                #expect(html.contains("data-stats=\"\(m)/1\""), "no stats line for \(m)")
            }
            #expect(html.contains("identity_fp32\" data-version=\"2\""))
            #expect(html.contains("<section class=model data-model=\"broken\"><h2>broken <span class='badge bad'>UNAVAILABLE</span>"))
            // Tabular: a text box of 64 zeros for the digits MLP's [1, 64] input; image: a file picker + canvas 8x8.
            let zeros = Array(repeating: "0", count: 64).joined(separator: ",")
            #expect(html.contains("data-datatype=\"FP32\" data-shape=\"[1, 64]\">\(zeros)</textarea>"))
            #expect(html.contains("<input type=file accept=\"image/*\" class=image data-name=\"image\" data-datatype=\"FP32\" data-shape=\"[1, 3, 8, 8]\">"))
            #expect(html.contains("<canvas width=8 height=8>"))
            #expect(html.contains("fetch('/v2/models/stats'"))
            #expect(!html.contains("id=token type=password"))
        }
    }

    @Test func tokenPageShowsNothingWithoutToken() async throws {
        try await ServerTests.withServer(token: "s3cret") { (c: Client, _: URL) async throws in
            var anon = c
            anon.token = nil
            let (s, html, _) = try await Self.page(anon)
            #expect(s == 200)
            #expect(html.contains("id=login"))
            #expect(!html.contains("digits_mlp"))
            let (s2, full, _) = try await Self.page(c)
            #expect(s2 == 200)
            #expect(full.contains("<form class=infer data-model=\"digits_mlp\""))
            #expect(full.contains("id=token type=password"))
        }
    }
}
