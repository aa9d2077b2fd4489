def test_stamps_in_parallel_threads(
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    trust: TrustConfig,
    signed_at: datetime,
    tmp_path: Path,
) -> None:
    fontcache.SUBSETS.clear()
    src = make_pdf()

    def sign(i: int) -> Path:
        stamp = StampContent(
            signer_name=f"Người ký số {i}",
            title="Phó Chánh Văn phòng",
            unit="Văn phòng Đảng ủy Khối",
            signed_at=signed_at + timedelta(minutes=i),
            kind="attachment" if i % 2 else "text",
        )
        out = tmp_path / f"parallel{i}.pdf"
        sign_pdf_file(src, out, duc_signer, SigningProfile(field_name=f"Sig-{i}", stamp=stamp))
        return out

    with ThreadPoolExecutor(max_workers=4) as pool:
        outputs = list(pool.map(sign, range(8)))
    for out in outputs:
        (sig,) = validate_pdf(out, trust).signatures
        assert sig.bottom_line, sig.problems
