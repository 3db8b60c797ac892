"""Operations endpoints: health now; readiness, metrics and the status page later."""
